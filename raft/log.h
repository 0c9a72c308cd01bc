// RaftLog: the log storage the Raft core reads; the caller writes it from each Ready. Entries
// are whole; an index is the last offset of an entry (docs/raft.md). A compacted log starts
// after a snapshot.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/types.h"

namespace rill::raft {

// In `entries` (sorted by index): the first entry ending after `index`, and the entry ending
// exactly at `index` (end() if none).
std::vector<Entry>::const_iterator FirstEntryAfter(const std::vector<Entry>& entries, Index index);
std::vector<Entry>::const_iterator FindEntry(const std::vector<Entry>& entries, Index index);

class RaftLog {
 public:
  virtual ~RaftLog() = default;
  // Where the log starts: index 0, term 0 and an empty configuration if never compacted.
  virtual SnapshotMeta SnapshotMetadata() const = 0;
  // Index of the last entry, or the snapshot's index when no entry follows it.
  virtual Index LastIndex() const = 0;
  // Term of the entry ending exactly at `index` (the snapshot's term at its index). OutOfRange
  // if `index` is compacted away, NotFound if no entry ends there.
  virtual absl::StatusOr<Term> TermAt(Index index) const = 0;
  // The last entry boundary at or before `index` (the snapshot index when none is after it); a
  // compacted `index` is returned unchanged.
  virtual Index BoundaryAtOrBefore(Index index) const = 0;
  // The entries after boundary `index` (not compacted) and up to `last`: at most `max_entries`
  // and `max_bytes` (EntryBytes), but at least one if there is one.
  virtual std::vector<Entry> EntriesAfter(Index index, Index last, size_t max_entries,
                                          size_t max_bytes) const = 0;
  // The newest snapshot, with its data; Unavailable if none can be had right now.
  virtual absl::StatusOr<Snapshot> GetSnapshot() const = 0;
};

// In memory, for tests and the simulator.
class MemoryLog final : public RaftLog {
 public:
  SnapshotMeta SnapshotMetadata() const override { return snapshot_.meta; }
  Index LastIndex() const override {
    return entries_.empty() ? snapshot_.meta.index : entries_.back().index;
  }
  absl::StatusOr<Term> TermAt(Index index) const override;
  Index BoundaryAtOrBefore(Index index) const override;
  std::vector<Entry> EntriesAfter(Index index, Index last, size_t max_entries,
                                  size_t max_bytes) const override;
  absl::StatusOr<Snapshot> GetSnapshot() const override { return snapshot_; }

  // Writes a Ready's entries: removes every entry after `after`, then appends `entries`.
  void Append(Index after, const std::vector<Entry>& entries);
  // Installs a Ready's snapshot: the log becomes empty after it.
  void ApplySnapshot(Snapshot snapshot);
  // Folds the entries through boundary `index` into a snapshot of `conf` and `data`.
  absl::Status Compact(Index index, ConfState conf, std::string data);

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Snapshot snapshot_;
  std::vector<Entry> entries_;
};

}  // namespace rill::raft
