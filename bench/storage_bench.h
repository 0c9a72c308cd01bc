// The `storage` benchmark of rill-bench (see storage_bench.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::bench {

struct StorageBenchOptions {
  std::string dir = ".";
  size_t record_bytes = 1024;
  // A realistic producer batch: 64 records of 1 KiB, like a Kafka producer with
  // batch.size=64KiB under load.
  int batch_records = 64;
  // Appends waiting for durability at once, as from many producers and partitions.
  int inflight = 64;
  uint64_t total_bytes = 1000 * 1000 * 1000;
  // Baseline and append runs alternate this many times; the best of each is reported.
  int rounds = 3;
  bool json = false;
  // Ctrl-C: checked between phases; the summary then covers the rounds that ended.
  const std::atomic<bool>* interrupted = nullptr;
};

absl::Status RunStorageBench(const StorageBenchOptions& options);

// One durable-append run of the storage engine in a temporary directory under options.dir
// (removed after): the MB/s of batch bytes appended, for comparison with the broker.
absl::StatusOr<double> MeasureDirectAppendMbps(const StorageBenchOptions& options);

}  // namespace rill::bench
