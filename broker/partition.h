// Partition: one topic partition hosted by this broker — its storage Log plus what the API
// needs around it: acknowledgement by acks level, the high watermark, and wake-ups for fetches
// long-polling for new data.
//
// Single-node today: the high watermark is the log's durable offset (what a later Raft group
// will make the commit index). Consumers read only below it.
//
// Thread-safety: all methods are thread-safe. Callbacks run on the storage flusher thread or the
// calling thread and must be quick (post real work elsewhere).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "rill/v1/rill.pb.h"
#include "storage/log.h"

namespace rill::broker {

struct ProduceResult {
  absl::Status status;
  int64_t base_offset = -1;
};

class Partition {
 public:
  Partition(std::string topic, int32_t id, std::shared_ptr<storage::Log> log);

  // Appends the batches in `chunks` (each chunk one or more whole batches; all are validated
  // before any is written), in order, and calls `done` once `acks` is satisfied.
  void Produce(const std::vector<std::string_view>& chunks, v1::Acks acks,
               std::function<void(ProduceResult)> done);

  // Makes `offset` the first readable offset, as Kafka's DeleteRecords (-1: the high
  // watermark); an offset at or below the start changes nothing. OFFSET_OUT_OF_RANGE past the
  // high watermark, STORAGE_ERROR when the log cannot record it. Returns the start offset after.
  absl::StatusOr<int64_t> DeleteRecordsBefore(int64_t offset);

  // Registers `wake` to run once the high watermark moves; returns an id for RemoveWaiter.
  uint64_t AddWaiter(std::function<void()> wake);
  void RemoveWaiter(uint64_t id);
  // Runs every registered waiter now (at shutdown).
  void WakeAll() { WakeWaiters(); }

  int64_t high_watermark() const { return log_->durable_offset().value(); }
  const std::string& topic() const { return topic_; }
  int32_t id() const { return id_; }
  storage::Log& log() { return *log_; }
  const storage::Log& log() const { return *log_; }

 private:
  void WakeWaiters();

  const std::string topic_;
  const int32_t id_;
  const std::shared_ptr<storage::Log> log_;
  absl::Mutex mu_;
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::broker
