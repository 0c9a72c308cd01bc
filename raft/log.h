// RaftLog: the log storage the Raft core reads and the caller writes. Entries are whole; an
// index is the last offset of an entry (docs/raft.md).
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/types.h"

namespace rill::raft {

class RaftLog {
 public:
  virtual ~RaftLog() = default;
  // Index of the last entry, or 0 for an empty log.
  virtual Index LastIndex() const = 0;
  // Term of the entry ending exactly at `index` (0 for index 0); NotFound if no entry ends
  // there.
  virtual absl::StatusOr<Term> TermAt(Index index) const = 0;
  // Index of the last entry at or before `index` (0 if none).
  virtual Index BoundaryAtOrBefore(Index index) const = 0;
  // The entries after `index` (an entry boundary), at most `max_entries`.
  virtual std::vector<Entry> EntriesAfter(Index index, size_t max_entries) const = 0;
  // Removes every entry after `index`, then appends `entries`.
  virtual void TruncateAndAppend(Index index, const std::vector<Entry>& entries) = 0;
};

// In memory, for tests and the simulator.
class MemoryLog final : public RaftLog {
 public:
  Index LastIndex() const override { return entries_.empty() ? 0 : entries_.back().index; }
  absl::StatusOr<Term> TermAt(Index index) const override;
  Index BoundaryAtOrBefore(Index index) const override;
  std::vector<Entry> EntriesAfter(Index index, size_t max_entries) const override;
  void TruncateAndAppend(Index index, const std::vector<Entry>& entries) override;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace rill::raft
