// A Kafka client nobody here wrote against the three-broker cluster: librdkafka's idempotent
// producer (through confluent-kafka, clients/kafka_clients.py librdkafka-failover) keeps
// producing while partition leaders are SIGKILLed and come back, and the history
// checker finds every acknowledged record once, in order, with no error reaching the
// application.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "tests/support/checked_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/history_checker.h"
#include "tests/support/test_cluster.h"

using namespace rill;
using namespace rill::testing;

namespace {

std::map<int, std::string> LiveBrokers(TestCluster& cluster) {
  std::map<int, std::string> out;
  for (int b = 1; b <= 3; ++b) {
    if (cluster.broker(b).pid() > 0) out[b] = cluster.broker(b).address();
  }
  return out;
}

struct Outcome {
  std::string kind;  // ack or error
  std::string value;
  int32_t partition = 0;
  int64_t offset = -1;
};

std::vector<Outcome> Outcomes(const std::vector<std::string>& lines) {
  std::vector<Outcome> out;
  for (const auto& line : lines) {
    std::istringstream in(line);
    Outcome o;
    if (!(in >> o.kind >> o.value >> o.partition >> o.offset)) continue;
    if (o.kind == "ack" || o.kind == "error") out.push_back(o);
  }
  return out;
}

size_t AcksOf(const ChildProcess& producer, int32_t partition = -1) {
  size_t n = 0;
  for (const auto& o : Outcomes(producer.Lines())) {
    if (o.kind == "ack" && (partition < 0 || o.partition == partition)) ++n;
  }
  return n;
}

// Waits up to 90 s for `done`; a producer that stalls fails the test with what it and the
// brokers said last.
void RequireProgress(const std::function<bool()>& done, TestCluster& cluster,
                     const ChildProcess& producer) {
  if (WaitFor(done, std::chrono::seconds(90))) return;
  const auto lines = producer.Lines();
  std::string last;
  for (size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i) {
    last += lines[i] + "\n";
  }
  const std::string logs = cluster.Logs();
  FAIL("the producer stalled; its last outcomes:\n"
       << last << "\nbroker logs (last 20000 bytes):\n"
       << logs.substr(logs.size() > 20000 ? logs.size() - 20000 : 0));
}

}  // namespace

TEST_CASE("kafka cluster: a librdkafka producer keeps producing through partition leaders' "
          "SIGKILL without errors or duplicates",
          "[cluster]") {
  TestCluster cluster(3);
  auto admin = AdminOf(cluster.Bootstrap());
  NewTopic topic;
  topic.name = kCheckedTopic;
  topic.partitions = kCheckedPartitions;
  topic.replication_factor = 3;
  REQUIRE(admin->CreateTopic(topic).ok());
  REQUIRE(WaitFullyReplicated(LiveBrokers(cluster), std::chrono::seconds(60)));

  std::string bootstrap;
  for (int b = 1; b <= 3; ++b) bootstrap += (b > 1 ? "," : "") + cluster.broker(b).kafka_address();
  const std::string stop_file = cluster.dir() + "/stop-producing";
  ChildProcess producer({"/usr/bin/env", "STOP_FILE=" + stop_file,
                         "PARTITIONS=" + std::to_string(kCheckedPartitions), "/usr/bin/python3",
                         RILL_KAFKA_CLIENTS_SCRIPT, "librdkafka-failover", bootstrap,
                         kCheckedTopic});
  REQUIRE(WaitFor([&] { return AcksOf(producer) >= 500; }, std::chrono::seconds(60)));

  // Rounds of: SIGKILL the leader of a seeded partition, see that partition take records again
  // on its new leader, bring the broker back, see everything move on.
  const uint64_t seed = TestSeed();
  UNSCOPED_INFO("seed " << seed << " (RILL_TEST_SEED replays it)");
  std::mt19937_64 rng(seed);
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const auto partition = static_cast<int32_t>(rng() % kCheckedPartitions);
    const int victim = LeaderOf(LiveBrokers(cluster), partition, std::chrono::seconds(20));
    REQUIRE(victim > 0);
    UNSCOPED_INFO("round " << round << ": SIGKILL of broker " << victim << ", leader of "
                           << partition);
    cluster.broker(victim).Kill();
    const size_t before = AcksOf(producer, partition);
    RequireProgress([&] { return AcksOf(producer, partition) >= before + 200; }, cluster,
                    producer);
    cluster.broker(victim).StartOnSamePort();
    REQUIRE(cluster.WaitReady(victim));
    REQUIRE(WaitFullyReplicated(LiveBrokers(cluster), std::chrono::seconds(60)));
    const size_t back = AcksOf(producer);
    RequireProgress([&] { return AcksOf(producer) >= back + 500; }, cluster, producer);
  }
  std::ofstream(stop_file) << "stop\n";
  REQUIRE(WaitFor(
      [&] {
        const auto lines = producer.Lines();
        return !lines.empty() && lines.back() == "ok";
      },
      std::chrono::seconds(180)));

  HistoryChecker history;
  const std::vector<Outcome> outcomes = Outcomes(producer.Lines());
  std::map<int64_t, Outcome> by_index;
  for (const auto& o : outcomes) by_index[std::stoll(o.value.substr(1))] = o;
  size_t errors = 0;
  for (const auto& [index, o] : by_index) {
    history.Queued("librdkafka", o.value, o.partition);
    if (o.kind == "ack") {
      history.Sent(o.value, o.partition, SendOutcome::kAcknowledged, o.offset);
    } else {
      ++errors;
      history.Sent(o.value, o.partition, SendOutcome::kIndeterminate, -1);
    }
  }
  // Every value the producer took was answered, in a row from v0.
  CHECK(by_index.size() == outcomes.size());
  CHECK((by_index.empty() || by_index.rbegin()->first + 1 == static_cast<int64_t>(by_index.size())));
  CHECK(errors == 0);
  REQUIRE(WaitFullyReplicated(LiveBrokers(cluster), std::chrono::seconds(60)));
  ConsumeAll(cluster.Bootstrap(), &history, "reader");
  const CheckReport report = history.Check();
  INFO(report.Summary());
  // The figures of a clean round, for the record.
  std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), report.Summary().c_str());
  CHECK(report.acknowledged >= 3000);
  CHECK(report.ok(/*allow_duplicates=*/false));
}
