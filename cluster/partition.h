// Partition: one topic partition hosted by this broker, and the only way into its storage Log.
// It owns produce (validation of client batches, the leader epoch stamped on every batch,
// acknowledgement by acks level), reads bounded by the high watermark, and the wake-ups of
// fetches long-polling for new data. Nothing outside reaches the Log itself.
//
// Single replica today: this broker leads every partition it hosts, in the leader epoch the log
// already holds (at least 0), and the high watermark is the log's durable offset. Replication
// (docs/architecture.md) makes the epoch the Raft term and the high watermark the commit index;
// readers see no difference.
//
// Errors carry rill.v1 error codes (api/error.h). Thread-safety: all methods are thread-safe.
// Callbacks run on the storage flusher thread or the calling thread and must be quick.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/ids.h"
#include "storage/log.h"

namespace rill::cluster {

// When a produce is answered (Kafka's acks).
enum class Acks {
  // At once, without an offset.
  kNone,
  // Once the leader has written the records.
  kLeader,
  // Once the records are durable (on a quorum, with replication).
  kAll,
};

struct ProduceResult {
  absl::Status status;
  // The offset of the first record; -1 on failure and for Acks::kNone.
  Offset base_offset{-1};
};

struct FetchResult {
  // OFFSET_OUT_OF_RANGE when the start is outside [log_start, high_watermark].
  absl::Status status;
  Offset log_start;
  Offset high_watermark;
  // Whole batches from the one holding the start offset, none at or past the high watermark.
  std::string batches;
  // Where the next fetch continues.
  Offset next_offset;
};

class Partition {
 public:
  Partition(std::string topic, PartitionId id, std::shared_ptr<storage::Log> log);

  // Appends the batches in `chunks` (each chunk one or more whole batches; all are validated
  // before any is written), in order, and calls `done` once `acks` is satisfied.
  void Produce(const std::vector<std::string_view>& chunks, Acks acks,
               std::function<void(ProduceResult)> done);

  // Reads up to about `max_bytes` (at least one batch when any is readable; none for 0) from
  // `start`, below the high watermark.
  FetchResult Fetch(Offset start, size_t max_bytes) const;

  // The first offset below the high watermark whose record timestamp is >= `timestamp`;
  // nullopt when there is none.
  absl::StatusOr<std::optional<Offset>> FindOffsetByTimestamp(int64_t timestamp) const;

  // Makes `offset` the first readable offset, as Kafka's DeleteRecords (nullopt: the high
  // watermark); an offset at or below the start changes nothing. OFFSET_OUT_OF_RANGE past the
  // high watermark, STORAGE_ERROR when the log cannot record it. Returns the start after.
  absl::StatusOr<Offset> DeleteRecordsBefore(std::optional<Offset> offset);

  // Applies new topic settings to the log.
  absl::Status UpdateConfig(const storage::LogConfig& config);

  // Registers `wake` to run once the high watermark moves; returns an id for RemoveWaiter.
  uint64_t AddWaiter(std::function<void()> wake);
  void RemoveWaiter(uint64_t id);
  // Runs every registered waiter now (at shutdown).
  void WakeAll() { WakeWaiters(); }

  Offset log_start_offset() const { return log_->start_offset(); }
  Offset high_watermark() const { return log_->durable_offset(); }
  // The epoch this replica stamps on the batches it writes as leader.
  int32_t leader_epoch() const { return leader_epoch_; }
  // The largest batch a produce may carry.
  size_t max_batch_bytes() const { return log_->max_batch_bytes(); }
  storage::LogStats stats() const { return log_->stats(); }
  const std::string& topic() const { return topic_; }
  PartitionId id() const { return id_; }

 private:
  void WakeWaiters();

  const std::string topic_;
  const PartitionId id_;
  const std::shared_ptr<storage::Log> log_;
  const int32_t leader_epoch_;
  absl::Mutex mu_;
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::cluster
