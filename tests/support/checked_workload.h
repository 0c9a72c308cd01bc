// A checked workload for fault tests over the SDK: a producer that records every send's outcome
// in a HistoryChecker, and a reader that records every record of the checked topic. Used by the
// cluster tests (broker processes) and the docker tests (containers).
#pragma once

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "tests/support/client_util.h"
#include "tests/support/history_checker.h"
#include "tests/support/live_test.h"

namespace rill::testing {

// The topic the workload writes: its partitions get values round-robin.
inline constexpr char kCheckedTopic[] = "checked";
inline constexpr int kCheckedPartitions = 6;

// The seed of a randomised test: RILL_TEST_SEED replays one.
inline uint64_t TestSeed() {
  if (const char* env = std::getenv("RILL_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

// Whether a failed send can never have been written: refusals of the record itself.
inline SendOutcome OutcomeOf(const absl::Status& status) {
  switch (ErrorCodeOf(status)) {
    case ErrorCode::kCorruptMessage:
    case ErrorCode::kMessageTooLarge:
    case ErrorCode::kUnknownPartition:
      return SendOutcome::kFailed;
    default:
      return SendOutcome::kIndeterminate;
  }
}

// Sends unique values round-robin over the partitions until stopped, recording every outcome.
class CheckedProducer {
 public:
  CheckedProducer(const std::string& bootstrap, HistoryChecker* history, Acks acks)
      : history_(history) {
    ProducerOptions options;
    options.client.bootstrap_brokers = bootstrap;
    options.client.request_timeout_ms = 3000;
    options.acks = acks;
    options.linger_ms = 2;
    options.delivery_timeout_ms = 20000;
    auto producer = Producer::Create(options);
    REQUIRE(producer.ok());
    producer_ = std::move(*producer);
  }

  // Sends `value_bytes` values to `partition` as fast as the producer takes them; `prefix`
  // keeps them apart from another producer's.
  void StartBulk(int32_t partition, size_t value_bytes, const std::string& prefix) {
    thread_ = std::thread([this, partition, value_bytes, prefix] {
      for (int64_t i = 0; !stop_; ++i) {
        std::string value = fmt::format("{}{}-", prefix, i);
        value.resize(value_bytes, 'x');
        SendOne(std::move(value), partition);
      }
    });
  }

  void Start(int per_second) {
    thread_ = std::thread([this, per_second] {
      for (int64_t i = 0; !stop_; ++i) {
        SendOne(fmt::format("v{}", i), static_cast<int32_t>(i % kCheckedPartitions));
        std::this_thread::sleep_for(std::chrono::microseconds(1000000 / per_second));
      }
    });
  }

  // Stops sending and waits for every outcome.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    producer_->Flush();
  }

  int64_t acknowledged() const { return acknowledged_; }
  ~CheckedProducer() { Stop(); }

 private:
  void SendOne(std::string value, int32_t partition) {
    ProducerRecord record;
    record.topic = kCheckedTopic;
    record.value = value;
    record.partition = partition;
    history_->Queued(name_, value, partition);
    ++sent_;
    auto s = producer_->Send(std::move(record), [this, value, partition](
                                                    const absl::StatusOr<RecordMetadata>& m) {
      if (m.ok()) {
        ++acknowledged_;
        history_->Sent(value, partition, SendOutcome::kAcknowledged, m->offset);
      } else {
        history_->Sent(value, partition, OutcomeOf(m.status()), -1);
      }
    });
    if (!s.ok()) history_->Sent(value, partition, SendOutcome::kFailed, -1);
  }

  HistoryChecker* const history_;
  // Tells this producer's records from others' for the order check.
  const std::string name_ = fmt::format("producer@{}", static_cast<const void*>(this));
  std::unique_ptr<Producer> producer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> acknowledged_{0};
};

// Reads every partition of the checked topic from the beginning to its end as it is now, as
// consumer `name`, into `history`.
inline void ConsumeAll(const std::string& bootstrap, HistoryChecker* history,
                       const std::string& name) {
  ClientOptions client;
  client.bootstrap_brokers = bootstrap;
  client.request_timeout_ms = 10000;
  for (const auto& r :
       ConsumeAll(client, kCheckedTopic, kCheckedPartitions, 0, /*to_end=*/true)) {
    history->Read(name, r.partition, r.offset, r.value.value_or(""));
  }
}

// Each partition's description by the broker that leads it (only a leader knows which replicas
// are in sync), asking every broker of `brokers` (node id to address) about itself.
// `all_know_leaders` tells whether every broker answered and named a leader for every partition.
inline std::map<int32_t, PartitionInfo> LeaderViews(const std::map<int, std::string>& brokers,
                                                    bool* all_know_leaders = nullptr,
                                                    const std::string& topic = kCheckedTopic) {
  std::map<int32_t, PartitionInfo> out;
  if (all_know_leaders) *all_know_leaders = true;
  for (const auto& [node, address] : brokers) {
    ClientOptions client;
    client.bootstrap_brokers = address;
    client.request_timeout_ms = 2000;
    auto admin = Admin::Create(client);
    if (!admin.ok()) continue;
    auto described = (*admin)->DescribeTopic(topic);
    if (!described.ok()) {
      if (all_know_leaders) *all_know_leaders = false;
      continue;
    }
    for (const auto& p : described->partitions) {
      if (p.leader == node) out[p.partition] = p;
      if (p.leader < 0 && all_know_leaders) *all_know_leaders = false;
    }
  }
  return out;
}

// The broker leading `partition` of the checked topic, once one of `brokers` says it does (-1 if
// none within `timeout`).
inline int LeaderOf(const std::map<int, std::string>& brokers, int32_t partition,
                    std::chrono::seconds timeout) {
  int leader = -1;
  WaitFor(
      [&] {
        auto views = LeaderViews(brokers);
        auto it = views.find(partition);
        leader = it == views.end() ? -1 : it->second.leader;
        return leader > 0;
      },
      timeout);
  return leader;
}

// Waits until every partition of the checked topic has a leader whose three replicas hold
// everything committed; on a timeout, what each leader said is in the test's output.
inline bool WaitFullyReplicated(const std::map<int, std::string>& brokers,
                                std::chrono::seconds timeout) {
  const bool replicated = WaitFor(
      [&] {
        bool all_know_leaders = false;
        auto views = LeaderViews(brokers, &all_know_leaders);
        if (views.size() != kCheckedPartitions || !all_know_leaders) return false;
        for (const auto& [p, info] : views) {
          if (info.in_sync_replicas.size() != 3) return false;
        }
        return true;
      },
      timeout);
  if (!replicated) {
    for (const auto& [p, info] : LeaderViews(brokers)) {
      UNSCOPED_INFO("partition " << p << " leader " << info.leader << " in sync "
                                 << info.in_sync_replicas.size() << " hw " << info.high_watermark);
    }
  }
  return replicated;
}

}  // namespace rill::testing
