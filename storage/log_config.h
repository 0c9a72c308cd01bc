// Per-log settings, with Kafka's topic-config names in the comments. Every limit has a
// documented default (docs/storage-format.md, "Limits").
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace rill::storage {

inline constexpr uint64_t kMinSegmentBytes = 1024;
inline constexpr uint64_t kMaxSegmentBytes = (uint64_t{1} << 31) - 1;
inline constexpr size_t kMaxBatchBytesLimit = size_t{256} << 20;
// Batches read back from disk are bounded by this, not by the current max_batch_bytes, so that
// lowering the limit never makes existing data unreadable.
inline constexpr size_t kMaxStoredBatchBytes = kMaxBatchBytesLimit;

struct LogConfig {
  // segment.bytes: roll to a new segment before the active one would exceed this.
  uint64_t segment_bytes = uint64_t{128} << 20;
  // segment.ms: roll when the active segment's first batch is older than this.
  int64_t segment_ms = int64_t{7} * 24 * 3600 * 1000;
  // retention.bytes: delete the oldest sealed segments while the log stays at least this
  // large without them. -1 keeps everything.
  int64_t retention_bytes = -1;
  // retention.ms: delete sealed segments whose newest record is older than this. -1 keeps all.
  int64_t retention_ms = int64_t{7} * 24 * 3600 * 1000;
  // index.interval.bytes: log bytes between offset-index entries.
  uint32_t index_interval_bytes = 4096;
  // max.message.bytes: the largest batch an append accepts.
  size_t max_batch_bytes = size_t{1} << 20;
  // Not a Kafka setting: the most a compressed batch's records may decompress to when validated
  // (a bound against zip bombs).
  size_t max_uncompressed_batch_bytes = size_t{64} << 20;
  // message.timestamp.before.max.ms / message.timestamp.after.max.ms (Kafka's KIP-937, which
  // replaced message.timestamp.difference.max.ms): how far in the past or the future (from the
  // broker's clock) a CreateTime record's timestamp may be. -1: no limit. Enforced on produce;
  // storage keeps them only because they are per-topic settings.
  int64_t message_timestamp_before_max_ms = -1;
  int64_t message_timestamp_after_max_ms = 3600000;
  // flush.ms: 0 acknowledges an append only once it is on disk (fdatasync, group-committed).
  // N > 0 acknowledges as soon as it is written and syncs at least every N ms, for users who
  // rely on replication rather than fsync.
  int64_t flush_interval_ms = 0;

  absl::Status Validate() const;
};

}  // namespace rill::storage
