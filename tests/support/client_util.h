// Helpers for tests that drive a BrokerProcess through the client SDK (Catch2 test files only).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catch2/catch.hpp"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "tests/support/broker_process.h"

namespace rill::testing {

inline ClientOptions Client(const BrokerProcess& broker) {
  ClientOptions options;
  options.bootstrap_brokers = broker.address();
  options.request_timeout_ms = 10000;
  return options;
}

inline std::unique_ptr<Admin> AdminOf(const std::string& bootstrap) {
  ClientOptions options;
  options.bootstrap_brokers = bootstrap;
  options.request_timeout_ms = 10000;
  auto admin = Admin::Create(options);
  REQUIRE(admin.ok());
  return std::move(*admin);
}

// Reads every record of `topic` from the beginning until `expected` arrived (or 60 s passed).
// With `to_end`, until every partition's end as it is now instead: a log may hold more records
// than were acknowledged, so a count alone can stop before an acknowledged one.
inline std::vector<ConsumerRecord> ConsumeAll(const ClientOptions& client,
                                              const std::string& topic, int partitions,
                                              size_t expected, bool to_end = false) {
  std::map<int32_t, int64_t> ends;
  if (to_end) {
    auto admin = Admin::Create(client);
    REQUIRE(admin.ok());
    auto latest = (*admin)->ListOffsets(topic, OffsetSpec{OffsetSpec::kLatest});
    // A leader may be moving (preferred-leader balancing): ask again.
    for (int attempt = 0; !latest.ok() && attempt < 50; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      latest = (*admin)->ListOffsets(topic, OffsetSpec{OffsetSpec::kLatest});
    }
    INFO(latest.status().ToString());
    REQUIRE(latest.ok());
    ends = *latest;
  }
  ConsumerOptions options;
  options.client = client;
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> assignment;
  for (int p = 0; p < partitions; ++p) assignment.push_back({topic, p});
  REQUIRE((*consumer)->Assign(assignment).ok());
  REQUIRE((*consumer)->SeekToBeginning(assignment).ok());
  std::vector<ConsumerRecord> all;
  auto done = [&]() {
    if (!to_end) return all.size() >= expected;
    // Position, not the last record, as control batches (leaders' no-ops) may end a partition.
    for (const auto& [partition, end] : ends) {
      auto position = (*consumer)->Position({topic, partition});
      if (!position.ok() || *position < end) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    auto records = (*consumer)->Poll(500);
    INFO(records.status().ToString());
    REQUIRE(records.ok());
    for (auto& r : *records) all.push_back(std::move(r));
  }
  CHECK(done());
  (*consumer)->Close();
  return all;
}

inline void CreateTopic(const BrokerProcess& broker, const std::string& name, int partitions,
                        std::map<std::string, std::string> configs = {}) {
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  absl::Status s = (*admin)->CreateTopic(NewTopic{name, partitions, 1, std::move(configs)});
  INFO(s.ToString());
  REQUIRE(s.ok());
}

}  // namespace rill::testing
