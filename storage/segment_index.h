// The two sparse indexes of a segment (docs/storage-format.md, "Index files"):
//
//   NNNN.index      offset index: (relative offset u32, position u32) — the batch starting at
//                   `position` in the .log file has base offset `segment base + relative offset`.
//   NNNN.timeindex  time index: (timestamp i64, relative offset u32) — every record at or before
//                   that offset has a timestamp <= `timestamp`.
//
// Both files start with a 16-byte versioned header and hold fixed-size big-endian entries with
// strictly increasing keys. Entries are kept in memory for lookups and appended to the file; an
// index is only a hint that can be rebuilt from the .log file, so it is synced when its segment
// is sealed or closed, not on every append.
//
// Thread-safety: none; the owning Log serializes access.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/file_system.h"

namespace rill::storage {

inline constexpr uint32_t kIndexMagic = 0x524C4958;  // "RLIX"
inline constexpr uint16_t kIndexFormatVersion = 1;
inline constexpr size_t kIndexHeaderBytes = 16;

struct OffsetIndexEntry {
  uint32_t relative_offset = 0;
  uint32_t position = 0;
};

struct TimeIndexEntry {
  int64_t timestamp = 0;
  uint32_t relative_offset = 0;
};

// Encoding of one kind of index; see the two specializations in the .cc file.
template <typename Entry>
struct IndexCodec;

template <typename Entry>
class SegmentIndex {
 public:
  // Creates (or empties) the index file at `path`.
  static absl::StatusOr<SegmentIndex> Create(FileSystem* fs, const std::string& path,
                                             int64_t base_offset);
  // Loads an existing index, checking its header, size and ordering, and that no entry points
  // past `log_size_bytes`. Any failure means the caller should rebuild it from the log.
  static absl::StatusOr<SegmentIndex> Load(FileSystem* fs, const std::string& path,
                                           int64_t base_offset, uint64_t log_size_bytes);

  // Precondition: `entry` sorts after the last entry (checked by the caller's logic).
  absl::Status Append(const Entry& entry);
  // Drops entries from the `keep`-th on.
  absl::Status TruncateEntries(size_t keep);
  absl::Status Sync() { return file_->Sync(); }

  const std::vector<Entry>& entries() const { return entries_; }
  std::optional<Entry> last() const {
    return entries_.empty() ? std::nullopt : std::optional<Entry>(entries_.back());
  }

 private:
  SegmentIndex(std::unique_ptr<File> file, std::vector<Entry> entries)
      : file_(std::move(file)), entries_(std::move(entries)) {}

  std::unique_ptr<File> file_;
  std::vector<Entry> entries_;
};

using OffsetIndex = SegmentIndex<OffsetIndexEntry>;
using TimeIndex = SegmentIndex<TimeIndexEntry>;

// The entry with the largest relative offset <= `relative_offset`, if any.
std::optional<OffsetIndexEntry> LookupOffset(const OffsetIndex& index, uint32_t relative_offset);
// The entry with the largest timestamp < `timestamp`, if any.
std::optional<TimeIndexEntry> LookupTimestampBefore(const TimeIndex& index, int64_t timestamp);

}  // namespace rill::storage
