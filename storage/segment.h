// A segment: one contiguous range of a partition log, stored as
//
//   <dir>/<base offset, 20 digits>.log        record batches exactly as appended
//   <dir>/<base offset, 20 digits>.index      sparse offset -> position index
//   <dir>/<base offset, 20 digits>.timeindex  sparse timestamp -> offset index
//
// (docs/storage-format.md). The .log file is the truth; the indexes are hints rebuilt from it
// whenever they are missing or do not check out.
//
// Thread-safety: mutators and the accessors of mutable state must be called under the owning
// Log's lock. The read helpers marked "lock-free" only touch the immutable file handle and the
// bounds they are given, so a Log can call them after releasing its lock while holding a
// shared_ptr to the segment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/record_batch.h"
#include "storage/file_system.h"
#include "storage/log_config.h"
#include "storage/segment_index.h"

namespace rill::storage {

inline constexpr int64_t kNoTimestamp = -1;

std::string SegmentFileName(int64_t base_offset, std::string_view extension);
// Parses "<20 digits>.log"; nullopt for any other name.
std::optional<int64_t> ParseSegmentFileName(std::string_view name);

// Reads consecutive batches of a file region with large buffered reads, checking each header.
class BatchScanner {
 public:
  struct Batch {
    format::BatchHeader header;
    uint64_t position = 0;
    // The whole batch; valid until the next call to Next.
    std::string_view bytes;
  };

  // Scans [start, end). With `verify_crc`, each batch's CRC is checked too. Reads at least
  // `chunk_bytes` at a time: large for whole-file scans, small for short lookups.
  BatchScanner(const File* file, uint64_t start, uint64_t end, bool verify_crc,
               size_t chunk_bytes = size_t{1} << 20);

  // The next batch, nullopt at a clean end, or DataLoss naming the position where the region
  // stops holding whole valid batches (torn write, bit flip, garbage).
  absl::StatusOr<std::optional<Batch>> Next();

 private:
  absl::Status Fill(uint64_t position, size_t size);

  const File* file_;
  uint64_t position_;
  uint64_t end_;
  bool verify_crc_;
  size_t chunk_bytes_;
  std::string buffer_;
  uint64_t buffer_start_ = 0;
};

// What opening a segment found and did, for logs and tests.
struct SegmentRecovery {
  bool indexes_rebuilt = false;
  uint64_t truncated_bytes = 0;
  std::string truncation_reason;
};

class Segment {
 public:
  enum class OpenMode {
    // Cleanly written segment: load the indexes (rebuild them if they do not check out) and
    // verify only the batches after the last index entry. Any invalid batch is DataLoss.
    kVerifyTail,
    // Possibly torn by a crash: verify every batch and truncate the file at the first one that
    // is incomplete or invalid, which was never acknowledged — unless it lies below the
    // segment's recovery point (Open), where data was known to be on disk: that is DataLoss.
    kRepairTail,
  };

  static absl::StatusOr<std::shared_ptr<Segment>> Create(FileSystem* fs, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config);
  // `recovery_point`: with kRepairTail, the offset below which the data was durable (0: not
  // known, anything may be cut).
  static absl::StatusOr<std::shared_ptr<Segment>> Open(FileSystem* fs, const std::string& dir,
                                                       int64_t base_offset, const LogConfig& config,
                                                       OpenMode mode, int64_t recovery_point,
                                                       SegmentRecovery* recovery);

  // Appends one validated batch whose offsets already continue this segment. On error nothing
  // of the batch remains in the file or the indexes.
  absl::Status Append(std::string_view batch, const format::BatchHeader& header, int64_t now_ms);

  // Adds the final time-index entry; called when the segment stops being the active one.
  absl::Status Seal();
  absl::Status SyncLog() { return log_->Sync(); }
  // The log file and both indexes.
  absl::Status SyncAll();

  // The position of the batch whose base offset is `offset` (next_offset() maps to the end);
  // InvalidArgument if `offset` lies inside a batch.
  absl::StatusOr<uint64_t> BatchBoundary(int64_t offset) const;
  // Removes every batch at or after `offset`, which must be a batch boundary.
  absl::Status TruncateTo(int64_t offset);
  // Removes the segment's files.
  absl::Status DeleteFiles();

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }
  uint64_t size_bytes() const { return size_bytes_; }
  bool empty() const { return size_bytes_ == 0; }
  // The largest record timestamp in the segment, or kNoTimestamp when empty.
  int64_t max_timestamp() const { return max_timestamp_; }
  // When the segment started filling, for rolling by age: the wall-clock time of its first
  // append, or after a restart the timestamp of its first batch.
  int64_t rolling_base_ms() const { return rolling_base_ms_; }
  const OffsetIndex& offset_index() const { return *offset_index_; }
  const TimeIndex& time_index() const { return *time_index_; }

  // A file position at or before the batch containing `offset` (from the offset index), and
  // the base offset of the batch there.
  struct Hint {
    uint64_t position = 0;
    int64_t offset = 0;
  };
  Hint PositionHint(int64_t offset) const;
  // The largest indexed batch boundary in (from, limit], or the segment end when that is
  // <= limit; nullopt when neither exists. Reads that stop there end on a whole batch, so a
  // sequential reader never reads a byte twice.
  std::optional<uint64_t> BoundaryBefore(uint64_t from, uint64_t limit) const;
  // A file position at or before the first batch that can hold a record with a timestamp
  // >= `timestamp` (from the time and offset indexes).
  uint64_t TimestampPositionHint(int64_t timestamp) const;

  // Lock-free: the position of the batch containing `offset`, scanning from `hint`; `end` if
  // the segment's batches before `end` all lie below `offset`.
  absl::StatusOr<uint64_t> FindBatchPosition(int64_t offset, uint64_t hint, uint64_t end) const;

  // Lock-free: copies into `buffer` at `*used` whole batches starting at `position` (which must
  // be a batch boundary holding `expected_offset`), while `*used` stays within `max_bytes` and
  // every batch ends at or before `upper_bound`; advances `*used`. `buffer` only ever grows
  // (its size is capacity, not content), so a reused buffer costs no allocation or zeroing.
  // If `*used` is 0 the first batch is copied even when it alone exceeds `max_bytes`, so a
  // reader always makes progress. `boundary`, when set, is a batch boundary to read up to
  // (from BoundaryBefore). Returns the offset after the last batch copied (`expected_offset`
  // when none was).
  absl::StatusOr<int64_t> ReadBatches(uint64_t position, uint64_t end,
                                      std::optional<uint64_t> boundary, int64_t expected_offset,
                                      size_t max_bytes, int64_t upper_bound, std::string* buffer,
                                      size_t* used) const;

  // Lock-free: the offset of the first record at or after `position` whose timestamp is
  // >= `timestamp`, or nullopt if there is none before `end`.
  absl::StatusOr<std::optional<int64_t>> FindOffsetByTimestamp(int64_t timestamp, uint64_t position,
                                                               uint64_t end) const;

  const File* log_file() const { return log_.get(); }
  std::string log_path() const;

 private:
  Segment(FileSystem* fs, std::string dir, int64_t base_offset, const LogConfig& config,
          std::unique_ptr<File> log);

  absl::Status CreateIndexes();
  // Rebuilds the in-memory state and both indexes by scanning the whole .log file.
  absl::Status ScanAndRebuild(OpenMode mode, int64_t recovery_point, SegmentRecovery* recovery);
  absl::Status LoadIndexesAndVerifyTail();
  // Updates the in-memory state and the indexes for a batch now stored at `position`.
  absl::Status Index(const format::BatchHeader& header, uint64_t position);
  uint32_t Relative(int64_t offset) const { return static_cast<uint32_t>(offset - base_offset_); }
  std::string PathFor(std::string_view extension) const;

  FileSystem* fs_;
  const std::string dir_;
  const int64_t base_offset_;
  const uint32_t index_interval_bytes_;
  std::unique_ptr<File> log_;
  std::optional<OffsetIndex> offset_index_;
  std::optional<TimeIndex> time_index_;

  uint64_t size_bytes_ = 0;
  int64_t next_offset_;
  int64_t max_timestamp_ = kNoTimestamp;
  int64_t rolling_base_ms_ = kNoTimestamp;
  uint64_t bytes_since_offset_entry_ = 0;
  uint64_t bytes_since_time_entry_ = 0;
};

}  // namespace rill::storage
