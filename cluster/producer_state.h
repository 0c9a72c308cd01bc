// Idempotent producers' state in one partition (docs/idempotence.md): for each producer id, its
// epoch and the sequence ranges and offsets of its last kBatchesPerProducer batches.
//
// Every replica builds the table from the batches as they are written to its log, so a new
// leader has it at once; the leader also checks each incoming batch against it. A batch is
// applied once: the table remembers the offset it has applied through and ignores anything at
// or below it. Truncating the log cannot be undone in the table; the owner rebuilds it from a
// snapshot and the log instead.
//
// Sequences follow Kafka's: each producer numbers the records it sends to a partition from 0,
// a batch carries the first one, and the count wraps from INT32_MAX to 0.
//
// Thread-safety: none; the owner serializes every call (the partition's Raft strand).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "format/record_batch.h"

namespace rill::cluster {

using format::IncrementSequence;

struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  Offset first_offset;
  Offset last_offset;
  friend bool operator==(const ProducerBatch&, const ProducerBatch&) = default;
};

struct ProducerEntry {
  int16_t epoch = 0;
  // Oldest first; at most kBatchesPerProducer.
  std::deque<ProducerBatch> batches;
  // Wall-clock time of the producer's last write, for expiry.
  int64_t last_write_ms = 0;
};

enum class SequenceVerdict {
  kAppend,      // the next batch in sequence (or a producer's first): write it
  kDuplicate,   // one of the last batches again: answer with its offsets, write nothing
  kOutOfOrder,  // a gap, or a new epoch not starting at sequence 0
  kFenced,      // an epoch older than the producer's current one
  kUnknownProducer,  // no state (expired or never seen) and not sequence 0: cannot tell
};

struct SequenceCheck {
  SequenceVerdict verdict = SequenceVerdict::kAppend;
  // kDuplicate: where the batch was written.
  ProducerBatch original;
  // What the producer's state expected, for error messages.
  int16_t current_epoch = -1;
  int32_t expected_sequence = -1;
};

struct ProducerStateLimits {
  // Producers remembered per partition; beyond it the least recently written is forgotten.
  size_t producers_max = 10000;
};

class ProducerStateTable {
 public:
  static constexpr size_t kBatchesPerProducer = 5;
  static constexpr uint32_t kSnapshotVersion = 1;

  explicit ProducerStateTable(ProducerStateLimits limits = {}) : limits_(limits) {}

  // Whether `header`, a batch from an idempotent producer (producer_id >= 0), may be written.
  SequenceCheck Check(const format::BatchHeader& header) const;

  // Records a batch written at `base_offset`. Batches without a producer id only move the
  // applied point; batches at or below it are ignored.
  void Apply(const format::BatchHeader& header, Offset base_offset, int64_t now_ms);

  // Forgets producers whose last write is `expiration_ms` or more before `now_ms`; returns how
  // many.
  size_t Expire(int64_t now_ms, int64_t expiration_ms);

  // The offset after the last batch applied (0 for an empty table).
  Offset next_offset() const { return next_offset_; }
  // Starts the table at `offset` (a log's start) with no producers.
  void Reset(Offset next_offset);
  // Moves the applied point up to `next_offset` (a log whose start moved past it), keeping
  // the producers.
  void SkipTo(Offset next_offset) { next_offset_ = std::max(next_offset_, next_offset); }

  size_t size() const { return producers_.size(); }
  const ProducerEntry* Find(int64_t producer_id) const;

  // Versioned snapshot: the producers and the applied point (docs/idempotence.md).
  std::string EncodeSnapshot() const;
  static absl::StatusOr<ProducerStateTable> DecodeSnapshot(std::string_view bytes,
                                                           ProducerStateLimits limits);

 private:
  void EvictLeastRecent();

  ProducerStateLimits limits_;
  absl::flat_hash_map<int64_t, ProducerEntry> producers_;
  Offset next_offset_{0};
};

}  // namespace rill::cluster
