// LogView: the log as the Raft core sees it: what the caller has persisted (RaftLog) plus what
// the core appended since and has not yet handed out or seen persisted. Entries past the
// unpersisted point in storage are stale (a conflicting suffix about to be overwritten) and are
// never read.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/log.h"
#include "raft/types.h"

namespace rill::raft {

class LogView {
 public:
  explicit LogView(const RaftLog* storage) : storage_(storage), after_(storage->LastIndex()) {}

  Index SnapshotIndex() const {
    return snapshot_ ? snapshot_->meta.index : storage_->SnapshotMetadata().index;
  }
  Index LastIndex() const { return entries_.empty() ? after_ : entries_.back().index; }
  absl::StatusOr<Term> TermAt(Index index) const;
  Term LastTerm() const;
  // The last entry boundary at or before `index`; a compacted `index` is returned unchanged.
  Index BoundaryAtOrBefore(Index index) const;
  // As RaftLog::EntriesAfter, for `index` at or after the snapshot.
  std::vector<Entry> EntriesAfter(Index index, Index last, size_t max_entries,
                                  size_t max_bytes) const;
  absl::StatusOr<Snapshot> GetSnapshot() const;

  // Replaces everything after `after` (>= the snapshot index) with `entries`.
  void Append(Index after, std::vector<Entry> entries);
  // The log becomes empty after `snapshot`.
  void Restore(Snapshot snapshot);

  // What the caller has to persist: the snapshot, then the entries after `unpersisted_after`.
  const std::optional<Snapshot>& unpersisted_snapshot() const { return snapshot_; }
  Index unpersisted_after() const { return after_; }
  // Everything through this index is persisted (0 while a snapshot waits to be).
  Index persisted_index() const {
    return snapshot_ ? Index(0) : after_;
  }
  const std::vector<Entry>& unpersisted_entries() const { return entries_; }
  // The caller persisted a snapshot at `snapshot_index` (0: none) and the entries through
  // `index`, whose term was `term`. What changed since is kept.
  void Persisted(Index snapshot_index, Index index, Term term);

 private:
  const RaftLog* const storage_;
  std::optional<Snapshot> snapshot_;
  // Unpersisted entries follow this index; storage is valid up to it.
  Index after_;
  std::vector<Entry> entries_;
};

}  // namespace rill::raft
