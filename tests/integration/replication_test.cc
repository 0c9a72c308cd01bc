// Replicated partitions under faults (ctest label `cluster`): three rill-broker processes on
// 127.0.0.1, partitions with three replicas, and the HistoryChecker's verdict on every send and
// read while leaders are killed, stalled and come back. Each test prints its seed; set
// RILL_TEST_SEED to replay one.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "format/record_batch.h"
#include "groups/group_store.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "tests/support/checked_workload.h"
#include "tests/support/history_checker.h"
#include "tests/support/test_cluster.h"

namespace rill::testing {
namespace {

constexpr const char* kTopic = kCheckedTopic;
constexpr int kPartitions = kCheckedPartitions;

void CreateCheckedTopic(TestCluster& cluster) {
  auto admin = cluster.AdminOf(cluster.Bootstrap());
  NewTopic topic;
  topic.name = kTopic;
  topic.partitions = kPartitions;
  topic.replication_factor = 3;
  REQUIRE(admin->CreateTopic(topic).ok());
}

// The live brokers' addresses by node id.
std::map<int, std::string> LiveBrokers(TestCluster& cluster, int brokers) {
  std::map<int, std::string> out;
  for (int b = 1; b <= brokers; ++b) {
    if (cluster.broker(b).pid() > 0) out[b] = cluster.broker(b).address();
  }
  return out;
}

std::map<int32_t, PartitionInfo> LeaderViews(TestCluster& cluster, int brokers,
                                             bool* all_know_leaders = nullptr,
                                             const std::string& topic = kTopic) {
  return testing::LeaderViews(LiveBrokers(cluster, brokers), all_know_leaders, topic);
}

// The broker leading `partition`, once one does (-1 if none within 20 s).
int LeaderOf(TestCluster& cluster, int32_t partition, int brokers = 3) {
  return testing::LeaderOf(LiveBrokers(cluster, brokers), partition, std::chrono::seconds(20));
}

// Waits until every partition has a leader whose three replicas hold everything committed.
bool WaitFullyReplicated(TestCluster& cluster, int brokers = 3) {
  const bool replicated =
      testing::WaitFullyReplicated(LiveBrokers(cluster, brokers), std::chrono::seconds(60));
  if (!replicated) UNSCOPED_INFO(cluster.Logs().substr(0, 20000));
  return replicated;
}

// Creates the checked topic, waits until it is fully replicated and returns the leader of its
// partition 0.
int CheckedTopicLeader(TestCluster& cluster) {
  CreateCheckedTopic(cluster);
  REQUIRE(WaitFullyReplicated(cluster));
  const int leader = LeaderOf(cluster, 0);
  REQUIRE(leader > 0);
  return leader;
}

// Every data record of every broker's replica of the checked topic, read from its files once
// the brokers are stopped. Unless `every_broker_hosts`, a broker may hold no replica of some.
void ReadReplicas(TestCluster& cluster, int brokers, HistoryChecker* history,
                  bool every_broker_hosts = true) {
  storage::Flusher flusher;
  for (int b = 1; b <= brokers; ++b) {
    cluster.broker(b).Stop();
    for (int32_t p = 0; p < kPartitions; ++p) {
      const std::string dir =
          PartitionDir(fmt::format("{}/broker-{}/logs", cluster.dir(), b), kTopic, p);
      if (!every_broker_hosts && dir.empty()) continue;
      REQUIRE_FALSE(dir.empty());
      storage::LogOptions options;
      options.flusher = &flusher;
      auto log = storage::Log::Open(dir, {}, options);
      REQUIRE(log.ok());
      Offset at = (*log)->start_offset();
      while (at < (*log)->next_offset()) {
        auto read = (*log)->Read(at, 1 << 20);
        REQUIRE(read.ok());
        for (const auto& r : DecodeBatches(read->batches, /*skip_control=*/true)) {
          history->InReplica(b, p, r.offset, r.value);
        }
        at = read->next_offset;
      }
      REQUIRE((*log)->Close().ok());
    }
  }
}

// Stops the producer, waits until every replica holds everything committed, reads it all back
// (a consumer, then every replica's files once the brokers are stopped) and checks the history.
CheckReport ReadBackAndCheck(TestCluster& cluster, CheckedProducer* producer,
                             HistoryChecker* history) {
  producer->Stop();
  REQUIRE(WaitFullyReplicated(cluster));
  ConsumeAll(cluster.Bootstrap(), history, "reader");
  ReadReplicas(cluster, 3, history);
  return history->Check();
}

// A seeded fault-injection run: three brokers, the checked topic fully replicated, and an
// (idempotent) acks=all producer sending 400 records a second until Check.
class FaultRun {
 public:
  FaultRun() {
    UNSCOPED_INFO("seed " << seed_ << " (RILL_TEST_SEED replays it)");
    CreateCheckedTopic(cluster_);
    REQUIRE(WaitFullyReplicated(cluster_));
    producer_ = std::make_unique<CheckedProducer>(cluster_.Bootstrap(), &history_, Acks::kAll);
    producer_->Start(400);
  }

  std::pair<TestCluster&, std::mt19937_64&> parts() { return {cluster_, rng_}; }
  // Stops producing, reads everything back and checks the history.
  CheckReport Check() { return ReadBackAndCheck(cluster_, producer_.get(), &history_); }

 private:
  const uint64_t seed_ = TestSeed();
  std::mt19937_64 rng_{seed_};
  TestCluster cluster_{3};
  HistoryChecker history_;
  std::unique_ptr<CheckedProducer> producer_;
};

TEST_CASE(
    "replication: SIGKILL of partition leaders and the controller while producing acks=all "
    "loses and reorders nothing",
    "[cluster]") {
  FaultRun run;
  auto [cluster, rng] = run.parts();
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1000));
    int victim = rng() % 4 == 0 ? cluster.ControllerLeader()
                                : LeaderOf(cluster, static_cast<int32_t>(rng() % kPartitions));
    if (victim < 1) victim = 1 + static_cast<int>(rng() % 3);
    UNSCOPED_INFO("round " << round << ": SIGKILL broker " << victim);
    cluster.broker(victim).Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1500));
    cluster.broker(victim).StartOnSamePort();
    REQUIRE(cluster.WaitReady(victim));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const CheckReport report = run.Check();
  INFO(report.Summary());
  CHECK(report.acknowledged > 1000);
  // The SDK's producer is idempotent by default: retries across the kills write nothing twice.
  CHECK(report.ok(/*allow_duplicates=*/false));
}

TEST_CASE(
    "idempotence: SIGKILL and SIGSTOP of partition leaders while producing with retries writes "
    "every acknowledged record exactly once",
    "[cluster]") {
  FaultRun run;
  auto [cluster, rng] = run.parts();
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    int victim = LeaderOf(cluster, static_cast<int32_t>(rng() % kPartitions));
    if (victim < 1) victim = 1 + static_cast<int>(rng() % 3);
    if (rng() % 2 == 0) {
      UNSCOPED_INFO("round " << round << ": SIGKILL broker " << victim);
      cluster.broker(victim).Kill();
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1500));
      cluster.broker(victim).StartOnSamePort();
      REQUIRE(cluster.WaitReady(victim));
    } else {
      // A stalled leader: its requests time out in the client, which retries them elsewhere
      // while the stalled process may still write them when it resumes.
      UNSCOPED_INFO("round " << round << ": SIGSTOP broker " << victim);
      cluster.broker(victim).Pause();
      std::this_thread::sleep_for(std::chrono::milliseconds(1500 + rng() % 2500));
      cluster.broker(victim).Resume();
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const CheckReport report = run.Check();
  INFO(report.Summary());
  CHECK(report.acknowledged > 1000);
  CHECK(report.ok(/*allow_duplicates=*/false));
}

TEST_CASE(
    "replication: with two of three replicas stopped acks=all never succeeds falsely, and "
    "succeeds again once they return",
    "[cluster]") {
  TestCluster cluster(3);
  const int leader = CheckedTopicLeader(cluster);
  auto admin = cluster.AdminOf(cluster.broker(leader).address());
  const int64_t before = admin->ListOffsets(kTopic, OffsetSpec{OffsetSpec::kLatest})->at(0);
  std::vector<int> others;
  for (int b = 1; b <= 3; ++b) {
    if (b != leader) others.push_back(b);
  }
  std::atomic<bool> sampler_stop{false};
  std::vector<int64_t> watermarks;
  ClientOptions sampling_client;
  sampling_client.bootstrap_brokers = cluster.Bootstrap();
  sampling_client.request_timeout_ms = 500;
  auto sampling = Admin::Create(sampling_client);
  REQUIRE(sampling.ok());
  // Answers come only while every partition has a serving leader (ListOffsets asks them all).
  std::thread sampler([&] {
    while (!sampler_stop) {
      auto latest = (*sampling)->ListOffsets(kTopic, OffsetSpec{OffsetSpec::kLatest});
      if (latest.ok()) watermarks.push_back(latest->at(0));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  for (int b : others) cluster.broker(b).Pause();

  ProducerOptions options;
  options.client.bootstrap_brokers = cluster.broker(leader).address();
  options.client.request_timeout_ms = 1500;
  options.delivery_timeout_ms = 3000;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  ProducerRecord record;
  record.topic = kTopic;
  record.partition = 0;
  record.value = "while-stalled";
  auto stalled = (*producer)->Send(record, nullptr).get();
  CHECK_FALSE(stalled.ok());
  // The leader wrote it but could not commit it: consumers do not see it.
  auto during = cluster.AdminOf(cluster.broker(leader).address())
                    ->ListOffsets(kTopic, OffsetSpec{OffsetSpec::kLatest});
  if (during.ok()) CHECK(during->at(0) == before);

  for (int b : others) cluster.broker(b).Resume();
  record.value = "after";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  absl::StatusOr<RecordMetadata> after = absl::UnavailableError("not sent");
  while (!after.ok() && std::chrono::steady_clock::now() < deadline) {
    after = (*producer)->Send(record, nullptr).get();
  }
  REQUIRE(after.ok());
  CHECK(after->offset >= before);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  sampler_stop = true;
  sampler.join();
  // The high watermark clients saw, answered by whichever broker led, only moved forward.
  for (size_t i = 1; i < watermarks.size(); ++i) CHECK(watermarks[i] >= watermarks[i - 1]);
  CHECK(watermarks.size() > 10);
}

TEST_CASE(
    "replication: records a leader wrote with acks=leader but never committed are cut when it "
    "returns and no consumer sees them",
    "[cluster]") {
  TestCluster cluster(3);
  const int leader = CheckedTopicLeader(cluster);
  HistoryChecker history;
  std::vector<int> others;
  for (int b = 1; b <= 3; ++b) {
    if (b != leader) others.push_back(b);
  }
  for (int b : others) cluster.broker(b).Pause();
  {
    ProducerOptions options;
    options.client.bootstrap_brokers = cluster.broker(leader).address();
    options.acks = Acks::kLeader;
    options.delivery_timeout_ms = 5000;
    auto producer = Producer::Create(options);
    REQUIRE(producer.ok());
    for (int i = 0; i < 20; ++i) {
      ProducerRecord record;
      record.topic = kTopic;
      record.partition = 0;
      record.value = fmt::format("uncommitted-{}", i);
      auto sent = (*producer)->Send(record, nullptr).get();
      REQUIRE(sent.ok());  // durable on the leader alone
      history.Sent(*record.value, 0, SendOutcome::kIndeterminate, sent->offset);
    }
  }
  cluster.broker(leader).Kill();
  for (int b : others) cluster.broker(b).Resume();
  // The other two elect a leader and write on.
  CheckedProducer producer(cluster.Bootstrap({leader}), &history, Acks::kAll);
  producer.Start(200);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  cluster.broker(leader).StartOnSamePort();
  REQUIRE(cluster.WaitReady(leader));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const CheckReport report = ReadBackAndCheck(cluster, &producer, &history);
  INFO(report.Summary());
  CHECK(report.ok(/*allow_duplicates=*/true));
  CHECK(producer.acknowledged() > 0);
  // None of the uncommitted records survived anywhere: not read, not on any replica (the
  // former leader cut them when it rejoined).
  for (int i = 0; i < 20; ++i) {
    CHECK_FALSE(history.WasSeen(fmt::format("uncommitted-{}", i)));
  }
}

TEST_CASE(
    "replication: a follower that was down while the leader's retention deleted segments "
    "catches up from the leader's log start",
    "[cluster]") {
  TestCluster cluster(3, {"--log-retention-check-interval-ms", "200"});
  {
    auto admin = cluster.AdminOf(cluster.Bootstrap());
    NewTopic topic;
    topic.name = kTopic;
    topic.partitions = kPartitions;
    topic.replication_factor = 3;
    topic.configs = {{"segment.bytes", "4096"}, {"retention.bytes", "16384"}};
    REQUIRE(admin->CreateTopic(topic).ok());
  }
  REQUIRE(WaitFullyReplicated(cluster));
  const int leader = LeaderOf(cluster, 0);
  const int away = leader % 3 + 1;
  cluster.broker(away).Kill();
  HistoryChecker history;
  // Produce until retention on the two live replicas moved partition 0's start past everything
  // `away` has.
  int64_t start_while_away = 0;
  {
    CheckedProducer producer(cluster.Bootstrap({away}), &history, Acks::kAll);
    producer.Start(1000);
    REQUIRE(WaitFor(
        [&] {
          auto views = LeaderViews(cluster, 3);
          start_while_away = views.contains(0) ? views[0].log_start_offset : 0;
          return start_while_away > 0;
        },
        std::chrono::seconds(90)));
    producer.Stop();
  }
  // The leader reports the partition under-replicated while `away` is gone, in cluster status
  // and in its metrics.
  {
    ClientOptions client;
    client.bootstrap_brokers = cluster.broker(leader).address();
    auto admin = Admin::Create(client);
    REQUIRE(admin.ok());
    auto status = (*admin)->DescribeCluster();
    REQUIRE(status.ok());
    bool reported = false;
    for (const auto& u : status->under_replicated) {
      if (u.topic == kTopic && u.partition == 0) reported = u.in_sync_replicas.size() == 2;
    }
    CHECK(reported);
    const std::string metrics = HttpGet(cluster.broker(leader).admin_address(), "/metrics");
    CHECK_THAT(metrics, Catch::Contains(fmt::format(
                            "rill_partition_replica_lag_offsets{{partition=\"0\",replica=\"{}\","
                            "topic=\"{}\"}}",
                            away, kTopic)));
    CHECK_THAT(metrics, Catch::Contains(fmt::format(
                            "rill_partition_under_replicated{{partition=\"0\",topic=\"{}\"}} 1",
                            kTopic)));
  }
  cluster.broker(away).StartOnSamePort();
  REQUIRE(cluster.WaitReady(away));
  REQUIRE(WaitFullyReplicated(cluster));
  // It started over at the leader's log start, not at its own old end.
  {
    ClientOptions client;
    client.bootstrap_brokers = cluster.broker(away).address();
    auto admin = Admin::Create(client);
    REQUIRE(admin.ok());
    auto described = (*admin)->DescribeTopic(kTopic);
    REQUIRE(described.ok());
    CHECK(described->partitions[0].log_start_offset >= start_while_away);
  }
  // `away` holds exactly what the leader holds from its own start on.
  HistoryChecker replicas;
  ReadReplicas(cluster, 3, &replicas);
  const CheckReport report = replicas.Check();
  INFO(report.Summary());
  CHECK(report.inconsistent.empty());
  CHECK(report.values_read > 0);
  CHECK_THAT(cluster.broker(leader).log() + cluster.broker(away).log(),
             !Catch::Contains("failed to persist"));
}

TEST_CASE(
    "replication: a consumer group keeps its committed offsets across a coordinator failover",
    "[cluster]") {
  TestCluster cluster(3);
  CreateCheckedTopic(cluster);
  REQUIRE(WaitFullyReplicated(cluster));
  HistoryChecker history;
  CheckedProducer producer(cluster.Bootstrap(), &history, Acks::kAll);
  producer.Start(300);

  ConsumerOptions options;
  options.client.bootstrap_brokers = cluster.Bootstrap();
  options.client.request_timeout_ms = 3000;
  options.group_id = "failover-group";
  options.auto_offset_reset = OffsetReset::kEarliest;
  options.enable_auto_commit = false;
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Subscribe({kTopic}).ok());
  std::vector<TopicPartition> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.push_back({kTopic, p});

  // Consume and commit for a while, kill the group's coordinator, and carry on.
  // The coordinator is the leader of the group's partition of __consumer_offsets.
  auto coordinator = [&] {
    const int32_t partition = groups::GroupPartitionFor("failover-group", 16);
    auto views = LeaderViews(cluster, 3, nullptr, "__consumer_offsets");
    return views.contains(partition) ? views[partition].leader : -1;
  };
  const auto run = [&](std::chrono::seconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      auto records = (*consumer)->Poll(200);
      if (!records.ok()) continue;
      for (const auto& r : *records) {
        history.Read("group-member", r.partition, r.offset, r.value.value_or(""));
      }
      if ((*consumer)->Commit().ok()) {
        auto committed = (*consumer)->Committed(all);
        if (committed.ok()) {
          for (const auto& [tp, offset] : *committed) {
            if (offset >= 0) history.Committed("failover-group", tp.partition, offset);
          }
        }
      }
    }
  };
  run(std::chrono::seconds(4));
  const int victim = coordinator();
  REQUIRE(victim > 0);
  cluster.broker(victim).Kill();
  run(std::chrono::seconds(6));
  cluster.broker(victim).StartOnSamePort();
  REQUIRE(cluster.WaitReady(victim));
  run(std::chrono::seconds(3));
  producer.Stop();
  (*consumer)->Close();
  const CheckReport report = history.Check();
  INFO(report.Summary());
  CHECK(report.backwards.empty());
  CHECK(report.lost.empty());
  CHECK(report.inconsistent.empty());
  CHECK(report.values_read > 100);
}

TEST_CASE(
    "leadership: transfers move leaders while producing, and the producer sees no error and "
    "writes nothing twice",
    "[cluster]") {
  FaultRun run;
  auto [cluster, rng] = run.parts();
  auto admin = cluster.AdminOf(cluster.Bootstrap());
  for (int round = 0; round < 8; ++round) {
    const auto partition = static_cast<int32_t>(rng() % kPartitions);
    const int leader = LeaderOf(cluster, partition);
    REQUIRE(leader > 0);
    const int to = 1 + (leader + static_cast<int>(rng() % 2)) % 3;
    UNSCOPED_INFO("round " << round << ": " << kTopic << "-" << partition << " from broker "
                           << leader << " to " << to);
    absl::Status moved = admin->TransferLeadership(kTopic, partition, to);
    INFO(moved.ToString());
    REQUIRE(moved.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
  }
  // A broker that is not one of the partition's replicas cannot be made its leader.
  CHECK(ErrorCodeOf(admin->TransferLeadership(kTopic, 0, 7)) == ErrorCode::kInvalidRequest);
  const CheckReport report = run.Check();
  INFO(report.Summary());
  CHECK(report.ok(/*allow_duplicates=*/false));
  CHECK(report.failed == 0);
  CHECK(report.indeterminate == 0);
}

TEST_CASE(
    "leadership: once a broker returns, leadership moves back to preferred replicas until "
    "every broker leads within one of its share",
    "[cluster]") {
  TestCluster cluster(3);
  CreateCheckedTopic(cluster);
  REQUIRE(WaitFullyReplicated(cluster));
  auto leader_counts = [&] {
    std::map<int, int> counts;
    for (const auto& [p, info] : LeaderViews(cluster, 3)) ++counts[info.leader];
    return counts;
  };
  cluster.broker(1).Kill();
  // The other two take over broker 1's partitions.
  REQUIRE(WaitFor(
      [&] {
        int led = 0;
        for (const auto& [b, n] : leader_counts()) led += n;
        return led == kPartitions;
      },
      std::chrono::seconds(30)));
  CHECK(leader_counts()[1] == 0);
  cluster.broker(1).StartOnSamePort();
  REQUIRE(cluster.WaitReady(1));
  const bool balanced = WaitFor(
      [&] {
        auto counts = leader_counts();
        int led = 0;
        int most = 0;
        int least = kPartitions;
        for (int b = 1; b <= 3; ++b) {
          led += counts[b];
          most = std::max(most, counts[b]);
          least = std::min(least, counts[b]);
        }
        return led == kPartitions && most - least <= 1;
      },
      std::chrono::seconds(40));
  auto counts = leader_counts();
  INFO("leaders: broker 1 " << counts[1] << ", broker 2 " << counts[2] << ", broker 3 "
                            << counts[3]);
  CHECK(balanced);
}

// The move of `partition` of the checked topic in progress, if any.
std::optional<PartitionReassignment> MoveOf(Admin& admin, int32_t partition) {
  auto moves = admin.ListReassignments(kTopic);
  if (!moves.ok()) return std::nullopt;
  for (const auto& r : *moves) {
    if (r.partition == partition) return r;
  }
  return std::nullopt;
}

std::optional<PartitionInfo> DescribePartition(Admin& admin, int32_t partition) {
  auto described = admin.DescribeTopic(kTopic);
  if (!described.ok()) return std::nullopt;
  for (const auto& p : described->partitions) {
    if (p.partition == partition) return p;
  }
  return std::nullopt;
}

std::set<int32_t> Set(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

TEST_CASE(
    "moves: reassigning a partition from brokers {1,2,3} to {2,3,4} while the cluster is "
    "written at full speed loses and duplicates nothing, and copies at its throttle",
    "[cluster]") {
  TestCluster cluster(4);
  CreateCheckedTopic(cluster);
  REQUIRE(WaitFullyReplicated(cluster, 4));
  auto admin = cluster.AdminOf(cluster.Bootstrap());
  // Partition 0 starts on brokers 1, 2 and 3 (placement may have put it elsewhere).
  REQUIRE(admin->ReassignPartition(kTopic, 0, {1, 2, 3}, 0).ok());
  REQUIRE(WaitFor([&] { return !MoveOf(*admin, 0); }, std::chrono::seconds(30)));
  REQUIRE(Set(DescribePartition(*admin, 0)->replicas) == std::set<int32_t>{1, 2, 3});

  // Data for the move to copy, written as fast as the cluster takes it.
  HistoryChecker history;
  CheckedProducer fill(cluster.Bootstrap(), &history, Acks::kAll);
  fill.StartBulk(0, 1024, "fill");
  constexpr int64_t kExistingBytes = 20 << 20;
  REQUIRE(WaitFor(
      [&] {
        auto p = DescribePartition(*admin, 0);
        return p && p->size_bytes >= kExistingBytes;
      },
      std::chrono::seconds(90)));
  fill.Stop();
  // Through the move: the cluster written at full speed (partition 1), and every partition,
  // the moving one included, written steadily and checked.
  CheckedProducer bulk(cluster.Bootstrap(), &history, Acks::kAll);
  bulk.StartBulk(1, 1024, "bulk");
  CheckedProducer checked(cluster.Bootstrap(), &history, Acks::kAll);
  checked.Start(1000);

  constexpr int64_t kThrottle = 4 << 20;
  REQUIRE(admin->ReassignPartition(kTopic, 0, {2, 3, 4}, kThrottle).ok());
  // From the moment broker 4 is a learner until it holds what the partition held then, the
  // copy runs at the throttle; what is written meanwhile follows unthrottled.
  std::optional<Clock::time_point> joined;
  std::optional<Clock::time_point> copied;
  int64_t bytes_then = 0;
  int64_t end_then = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    auto move = MoveOf(*admin, 0);
    if (!move) break;
    for (const auto& m : move->members) {
      if (m.node_id != 4 || !(m.learner || m.voter)) continue;
      if (!joined) {
        joined = Clock::now();
        auto p = DescribePartition(*admin, 0);
        REQUIRE(p);
        bytes_then = p->size_bytes;
        end_then = p->high_watermark;
      } else if (!copied && m.matched_offset >= end_then) {
        copied = Clock::now();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(joined);
  REQUIRE(copied);
  const double seconds = std::chrono::duration<double>(*copied - *joined).count();
  const double rate = static_cast<double>(bytes_then) / seconds;
  INFO("copied " << bytes_then << " bytes in " << seconds << " s: " << rate / (1 << 20)
                 << " MiB/s against a throttle of " << kThrottle / (1 << 20) << " MiB/s");
  CHECK(rate >= 0.8 * kThrottle);
  CHECK(rate <= 1.2 * kThrottle);
  REQUIRE(WaitFor([&] { return !MoveOf(*admin, 0); }, std::chrono::seconds(60)));
  REQUIRE(Set(DescribePartition(*admin, 0)->replicas) == std::set<int32_t>{2, 3, 4});

  bulk.Stop();
  checked.Stop();
  REQUIRE(WaitFullyReplicated(cluster, 4));
  ConsumeAll(cluster.Bootstrap(), &history, "reader");
  ReadReplicas(cluster, 4, &history, /*every_broker_hosts=*/false);
  // Broker 1's replica is gone.
  CHECK(PartitionDir(fmt::format("{}/broker-1/logs", cluster.dir()), kTopic, 0).empty());
  const CheckReport report = history.Check();
  INFO(report.Summary());
  CHECK(report.acknowledged > 20000);
  CHECK(report.ok(/*allow_duplicates=*/false));
}

TEST_CASE(
    "moves: a broker decommissioned under load is drained of every replica, leaders included, "
    "and can be stopped without losing or duplicating anything",
    "[cluster]") {
  TestCluster cluster(4);
  CreateCheckedTopic(cluster);
  REQUIRE(WaitFullyReplicated(cluster, 4));
  auto admin = cluster.AdminOf(cluster.Bootstrap());
  HistoryChecker history;
  CheckedProducer checked(cluster.Bootstrap(), &history, Acks::kAll);
  checked.Start(1000);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int victim = LeaderOf(cluster, 0, 4);
  REQUIRE(victim > 0);
  UNSCOPED_INFO("decommissioning broker " << victim);
  REQUIRE(admin->DecommissionBroker(victim).ok());
  // No new replica may go to it meanwhile.
  NewTopic other;
  other.name = "placed-elsewhere";
  other.partitions = 4;
  other.replication_factor = 3;
  REQUIRE(admin->CreateTopic(other).ok());
  auto placed = admin->DescribeTopic(other.name);
  REQUIRE(placed.ok());
  for (const auto& p : placed->partitions) CHECK_FALSE(Set(p.replicas).contains(victim));
  auto replicas_on_victim = [&] {
    auto cluster_now = admin->DescribeCluster();
    if (!cluster_now.ok()) return -1;
    for (const auto& b : cluster_now->brokers) {
      if (b.node_id == victim) return b.decommissioning ? b.replicas : -1;
    }
    return -1;
  };
  REQUIRE(WaitFor([&] { return replicas_on_victim() == 0; }, std::chrono::seconds(120)));
  auto described = admin->DescribeTopic(kTopic);
  REQUIRE(described.ok());
  for (const auto& p : described->partitions) {
    CHECK(p.leader != victim);
    CHECK_FALSE(Set(p.replicas).contains(victim));
  }
  // Drained, it can go: producing goes on without it.
  cluster.broker(victim).Stop();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  checked.Stop();
  for (int32_t p = 0; p < kPartitions; ++p) {
    CHECK(PartitionDir(fmt::format("{}/broker-{}/logs", cluster.dir(), victim), kTopic, p)
              .empty());
  }
  ConsumeAll(cluster.Bootstrap(), &history, "reader");
  ReadReplicas(cluster, 4, &history, /*every_broker_hosts=*/false);
  const CheckReport report = history.Check();
  INFO(report.Summary());
  CHECK(report.acknowledged > 2000);
  CHECK(report.ok(/*allow_duplicates=*/false));
}

TEST_CASE(
    "shutdown: a leader cut off from its quorum still stops, failing the produce waiting for a "
    "commit that cannot come",
    "[cluster]") {
  TestCluster cluster(3);
  const int leader = CheckedTopicLeader(cluster);
  ProducerOptions options;
  options.client.bootstrap_brokers = cluster.broker(leader).address();
  options.client.request_timeout_ms = 30000;
  options.delivery_timeout_ms = 5000;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  // The metadata first, so the send goes out at once.
  REQUIRE((*producer)->Send(ProducerRecord{kTopic, std::nullopt, "warm-up", {}, 0, {}}, nullptr)
              .get()
              .ok());
  // The other replicas stall: what the leader takes now cannot commit, and the leader is
  // stopped before it notices (an election timeout) that it lost its quorum.
  for (int b = 1; b <= 3; ++b) {
    if (b != leader) cluster.broker(b).Pause();
  }
  auto pending =
      (*producer)->Send(ProducerRecord{kTopic, std::nullopt, "stranded", {}, 0, {}}, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::atomic<bool> stopped{false};
  const pid_t pid = cluster.broker(leader).pid();
  // Should the broker hang, it is killed, so the test fails instead of blocking.
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !stopped; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!stopped) ::kill(pid, SIGKILL);
  });
  const auto start = Clock::now();
  const int status = cluster.broker(leader).Stop();
  stopped = true;
  watchdog.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  INFO("stopped in " << seconds << " s with status " << status);
  CHECK(status == 0);
  CHECK(seconds < 30);
  for (int b = 1; b <= 3; ++b) {
    if (b != leader) cluster.broker(b).Resume();
  }
  (void)pending.get();
}

TEST_CASE(
    "idempotence: a new producer whose first bootstrap broker is down still gets its id and "
    "writes",
    "[cluster]") {
  TestCluster cluster(3);
  CheckedTopicLeader(cluster);
  // Broker 1 is listed first, and gone.
  const std::string bootstrap = cluster.Bootstrap();
  cluster.broker(1).Kill();
  ProducerOptions options;
  options.client.bootstrap_brokers = bootstrap;
  options.client.request_timeout_ms = 3000;
  options.delivery_timeout_ms = 30000;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  const auto start = Clock::now();
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto sent = (*producer)->Send(ProducerRecord{kTopic, std::nullopt, "after", {}, p, {}}, nullptr)
                    .get();
    INFO(sent.status().ToString());
    CHECK(sent.ok());
  }
  CHECK(Clock::now() - start < std::chrono::seconds(20));
}

}  // namespace
}  // namespace rill::testing
