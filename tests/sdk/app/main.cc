// An application built outside the source tree against an installed SDK (out_of_tree_test.sh):
// creates a topic, produces keyed records, reads them back as a consumer group member.
//
//   sdk-app BROKERS TOPIC COUNT
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/version.h"

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "sdk-app: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: sdk-app BROKERS TOPIC COUNT\n");
    return 2;
  }
  rill::ClientOptions client;
  client.bootstrap_brokers = argv[1];
  const std::string topic = argv[2];
  const int count = std::atoi(argv[3]);
  std::printf("headers %s, library %s\n", RILL_VERSION_STRING, rill::Version());

  auto admin = rill::Admin::Create(client);
  if (!admin.ok()) return Fail("admin", admin.status());
  if (auto s = (*admin)->CreateTopic(rill::NewTopic{topic, 3, 1, {}}); !s.ok()) {
    return Fail("create topic", s);
  }

  rill::ProducerOptions producer_options;
  producer_options.client = client;
  auto producer = rill::Producer::Create(producer_options);
  if (!producer.ok()) return Fail("producer", producer.status());
  std::vector<std::future<absl::StatusOr<rill::RecordMetadata>>> acks;
  for (int i = 0; i < count; ++i) {
    rill::ProducerRecord record;
    record.topic = topic;
    record.key = "key-" + std::to_string(i % 7);
    record.value = "value-" + std::to_string(i);
    acks.push_back((*producer)->Send(std::move(record), nullptr));
  }
  (*producer)->Flush();
  for (auto& ack : acks) {
    auto sent = ack.get();
    if (!sent.ok()) return Fail("send", sent.status());
  }
  (*producer)->Close();

  rill::ConsumerOptions consumer_options;
  consumer_options.client = client;
  consumer_options.group_id = topic + "-readers";
  consumer_options.auto_offset_reset = rill::OffsetReset::kEarliest;
  auto consumer = rill::Consumer::Create(consumer_options);
  if (!consumer.ok()) return Fail("consumer", consumer.status());
  if (auto s = (*consumer)->Subscribe({topic}); !s.ok()) return Fail("subscribe", s);
  std::set<std::string> values;
  for (int polls = 0; polls < 300 && static_cast<int>(values.size()) < count; ++polls) {
    auto records = (*consumer)->Poll(100);
    if (!records.ok()) return Fail("poll", records.status());
    for (const auto& r : *records) values.insert(r.value.value_or(""));
  }
  (*consumer)->Close();
  std::printf("produced %d, consumed %zu distinct\n", count, values.size());
  return static_cast<int>(values.size()) == count ? 0 : 1;
}
