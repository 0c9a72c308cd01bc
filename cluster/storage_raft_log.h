// StorageRaftLog: Raft's log over a partition's storage::Log (docs/raft.md, "One log, not
// two"). An entry is one RecordBatch, its index the offset after the batch's last record (so
// index 0 is the empty log and the commit index is the high watermark), its term the batch's
// partition leader epoch. Raft's own entries, the no-op a new leader appends and
// configuration changes, are one-record control batches (key: version 0, type kRaftNoopType or
// kRaftConfChangeType; the value holds a configuration change's data), which consumers skip.
//
// Reads answer terms from the log's in-memory term index; entry boundaries are checked against
// the batch headers (the page cache, for the recent entries Raft asks about).
//
// The owner writes it from each Ready (Append, InstallSnapshot) before sending the Ready's
// messages, and keeps the snapshot metadata (Raft's compaction point) durable itself.
//
// Thread-safety: reads are thread-safe (the Log is); the owner serializes writes with reads of
// the RaftNode that uses it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "raft/log.h"
#include "storage/log.h"

namespace rill::cluster {

// Control record types of Raft's entries. Kafka uses 0 and 1 for transaction markers.
inline constexpr int16_t kRaftNoopType = 16;
inline constexpr int16_t kRaftConfChangeType = 17;

class StorageRaftLog final : public raft::RaftLog {
 public:
  // Reads a snapshot's data when a follower needs one (the controller's image; nothing for a
  // partition, whose log is its state).
  using SnapshotReader = std::function<absl::StatusOr<std::string>()>;

  // `snapshot` is where the log's entries start: its index is at least the log's start offset
  // (index 0, term 0 for a log never compacted).
  StorageRaftLog(std::shared_ptr<storage::Log> log, raft::SnapshotMeta snapshot,
                 SnapshotReader read_snapshot);

  raft::SnapshotMeta SnapshotMetadata() const override;
  raft::Index LastIndex() const override;
  absl::StatusOr<raft::Term> TermAt(raft::Index index) const override;
  raft::Index BoundaryAtOrBefore(raft::Index index) const override;
  std::vector<raft::Entry> EntriesAfter(raft::Index index, raft::Index last, size_t max_entries,
                                        size_t max_bytes) const override;
  absl::StatusOr<raft::Snapshot> GetSnapshot() const override;

  // Writes a Ready's entries: removes every entry after boundary `after`, then appends
  // `entries` in order, each stamped with its term. A normal entry's data is one whole batch
  // whose offsets are rewritten to end at the entry's index; an empty one is a no-op. `durable`
  // runs exactly once: when all of them are on disk, or with the error that stopped them (which
  // Append also returns when it stopped before writing).
  absl::Status Append(raft::Index after, const std::vector<raft::Entry>& entries,
                      std::function<void(absl::Status)> durable);
  // Installs a snapshot: the log becomes empty, continuing after its index.
  absl::Status InstallSnapshot(const raft::SnapshotMeta& snapshot);
  // Moves the compaction point up to `snapshot` (an entry boundary at or below the last index)
  // and lets the log delete what lies before it.
  absl::Status Compact(const raft::SnapshotMeta& snapshot);

  storage::Log& log() const { return *log_; }

  // The batch that carries `entry` at its index and term.
  static absl::StatusOr<std::string> EncodeEntry(const raft::Entry& entry, size_t max_batch_bytes);
  // The entry a stored batch is.
  static absl::StatusOr<raft::Entry> DecodeEntry(std::string_view batch, size_t max_batch_bytes);

 private:
  // The header of the batch holding `offset`, read from the log.
  absl::StatusOr<format::BatchHeader> HeaderAt(Offset offset) const;

  const std::shared_ptr<storage::Log> log_;
  const SnapshotReader read_snapshot_;
  mutable absl::Mutex mu_;
  raft::SnapshotMeta snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::cluster
