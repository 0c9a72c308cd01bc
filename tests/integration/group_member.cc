// rill-group-member: one consumer-group member as its own process, for tests that SIGKILL a
// member. Usage: rill-group-member BROKERS GROUP TOPIC AUTO_COMMIT_MS
// Prints "A p,p,..." on every assignment change and "R partition offset" per record, flushed,
// so the test sees exactly what it processed before it died.
#include <cstdio>
#include <string>

#include "rill/consumer.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: rill-group-member BROKERS GROUP TOPIC AUTO_COMMIT_MS\n");
    return 2;
  }
  rill::ConsumerOptions options;
  options.client.bootstrap_brokers = argv[1];
  options.client.request_timeout_ms = 10000;
  options.group_id = argv[2];
  options.auto_offset_reset = rill::OffsetReset::kEarliest;
  options.auto_commit_interval_ms = std::stoi(argv[4]);
  auto consumer = rill::Consumer::Create(options);
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  auto print_assignment = [&](const std::vector<rill::TopicPartition>&) {
    std::string line = "A ";
    for (const auto& tp : (*consumer)->Assignment()) line += std::to_string(tp.partition) + ",";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  rill::RebalanceListener listener;
  listener.on_assigned = print_assignment;
  listener.on_lost = print_assignment;
  auto status = (*consumer)->Subscribe({argv[3]}, listener);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  while (true) {
    auto records = (*consumer)->Poll(200);
    if (!records.ok()) continue;
    for (const auto& r : *records)
      std::printf("R %d %lld\n", r.partition, static_cast<long long>(r.offset));
    if (!records->empty()) std::fflush(stdout);
  }
}
