// The broker benchmarks of rill-bench, through the client SDK against a running broker (in the
// manner of kafka-producer-perf-test and the OpenMessaging Benchmark):
//
//   produce  producers send records as fast as allowed (or at --rate); throughput and
//            send-to-acknowledgement latency; optionally beside a direct durable append of the
//            storage engine on a given directory, measured in the same run
//   consume  consumers read the topic from the beginning to the end it had when they started
//            (or --records, if fewer); throughput, and how much there was
//   e2e      producers and consumers at once; end-to-end latency from the send time each
//            record carries in its first 8 bytes
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace rill::bench {

struct BrokerBenchOptions {
  std::string mode;  // produce, consume or e2e
  std::string brokers = "127.0.0.1:9290";
  std::string topic = "rill-bench";
  int partitions = 6;  // when the topic has to be created
  int replication_factor = 1;  // likewise
  size_t record_bytes = 1024;
  int64_t records = 1000000;
  // 0: no limit; otherwise stop after this many seconds even if fewer records were sent.
  int64_t duration_s = 0;
  int producers = 1;
  int consumers = 1;
  std::string acks = "all";
  // "on" (the SDK's default) or "off": the idempotent producer, with acks=all.
  std::string idempotence = "on";
  // Records per second across all producers; 0: as fast as possible.
  int64_t rate = 0;
  int linger_ms = 5;
  // Requests out at once per partition (idempotent producers; 1 to 5).
  int max_in_flight = 5;
  size_t batch_bytes = 64 * 1024;
  // produce: also measure the storage engine's direct durable append here (the broker's disk).
  std::string compare_storage_dir;
  // consume / e2e: consumers join this consumer group (the broker assigns partitions) instead
  // of splitting the partitions among themselves. rebalance: the group to measure.
  std::string group;
  bool json = false;
};

// Runs the benchmark; a progress line a second on stderr, a summary of what ran on stdout, also
// when `interrupted` turns true (SIGINT) before the end.
absl::Status RunBrokerBench(const BrokerBenchOptions& options,
                            const std::atomic<bool>& interrupted);

// rebalance: with records flowing, how long a new group member waits for partitions, and how
// long a SIGKILLed member's partitions go unread (bench/rebalance_bench.cc).
absl::Status RunRebalanceBench(const BrokerBenchOptions& options, const std::string& self_exe,
                               const std::atomic<bool>& interrupted);
// The member process RunRebalanceBench starts (and kills): prints "assigned P,P,..." lines.
int RunBenchMember(const BrokerBenchOptions& options);

// Creates the topic if missing; returns its partition count.
absl::Status EnsureTopic(const BrokerBenchOptions& o, int* partitions);

}  // namespace rill::bench
