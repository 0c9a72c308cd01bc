// TermIndex: which partition leader epoch (the Raft term of a replicated partition) each part
// of a log was written in, held in memory so a Raft log over a storage::Log answers
// term_at(index) without reading disk. As Kafka's leader-epoch cache: one entry per epoch, the
// first offset written in it. An epoch covers [its start, the next entry's start).
//
// The Log keeps it in step with appends, truncation and prefix deletion, and checkpoints it in
// the `leader-epochs` file (docs/storage-format.md) whenever it gains or loses an entry, which
// happens once per leader election, not per append.
//
// Thread-safety: none; the owning Log guards it with its lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rill::storage {

inline constexpr char kLeaderEpochsFileName[] = "leader-epochs";
// An epoch change per leader election; this many in one log's retained data is far beyond any
// real history, and bounds what a corrupt file can make recovery allocate.
inline constexpr size_t kLeaderEpochsMax = 1 << 20;

class TermIndex {
 public:
  struct Entry {
    int32_t epoch = 0;
    int64_t start_offset = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  // Notes a batch of `epoch` starting at `base_offset` (at or past every recorded start). Returns
  // true when it begins a new epoch. A batch with an epoch below the newest is folded into the
  // newest: that is how logs written before epochs were stamped read back. Appends refuse such
  // batches before they get here (see Log::Append).
  bool Observe(int32_t epoch, int64_t base_offset);

  // The epoch of the batch holding `offset`; nullopt below the first entry.
  std::optional<int32_t> EpochAt(int64_t offset) const;
  std::optional<int32_t> last_epoch() const;

  // Forgets epochs that start at or after `offset` (the log was truncated to end there).
  // Returns whether anything changed.
  bool TruncateFrom(int64_t offset);
  // The log now starts at `start`: drops epochs wholly before it and moves the first kept one's
  // start up to `start`. Returns whether anything changed.
  bool TruncateBefore(int64_t start);

  const std::vector<Entry>& entries() const { return entries_; }

  // The `leader-epochs` file, version 1.
  std::string Encode() const;
  // DataLoss naming `path` for anything that is not a whole, valid version-1 file.
  static absl::StatusOr<TermIndex> Decode(std::string_view bytes, const std::string& path);

 private:
  std::vector<Entry> entries_;
};

}  // namespace rill::storage
