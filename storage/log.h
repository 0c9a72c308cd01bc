// Log: one partition's append-only record log, a directory of segments (storage/segment.h)
// plus two small files (docs/storage-format.md):
//
//   log-start-offset   the first offset still readable, when retention or DeletePrefix moved it
//                      inside or past the first segment (versioned, CRC-checked)
//   clean-shutdown     present only while the log is closed after a clean Close()
//
// Durability: an append's callback runs once the batch is on disk (group-committed fdatasync by
// the shared Flusher), unless the log's flush_interval_ms relaxes that. On Open, the segments
// before the active one were synced when they were sealed and are verified cheaply (indexes
// and the tail of each); the active segment is fully verified and, after a crash, truncated at
// its first incomplete or invalid batch — bytes that were never acknowledged. Invalid data
// anywhere else is reported as DataLoss and the log refuses to open rather than serve garbage.
//
// Thread-safety: every method is thread-safe. Appends are serialized by one lock; reads take it
// only to locate segments and then read without it. A read racing a TruncateTo of the very range
// it reads may see the removed batches or fail; readers that stay below the committed offset (as
// consumers below the high watermark do) never race one. Callbacks run on the flusher thread (or
// the appending thread for relaxed logs) and must not call Close().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/ids.h"
#include "storage/file_system.h"
#include "storage/flusher.h"
#include "storage/log_config.h"
#include "storage/segment.h"
#include "storage/term_index.h"

namespace rill::storage {

inline constexpr char kCleanShutdownFileName[] = "clean-shutdown";
inline constexpr char kStartOffsetFileName[] = "log-start-offset";

struct AppendOptions {
  // true: the log assigns offsets, overwriting the batch's base offset (a leader's append).
  // false: the batch's base offset must equal next_offset() (a follower copying a leader).
  bool assign_offsets = true;
  // Stamped into the batch's partition leader epoch when set (the Raft term, later).
  std::optional<int32_t> leader_epoch;
  // The caller ran format::ValidateBatch on this batch with limits no looser than the log's
  // (as the broker does before appending any batch of a request): only the header is checked
  // again, not the CRC and records.
  bool validated = false;
};

struct AppendResult {
  Offset base_offset;
  Offset last_offset;
};

// Runs exactly once: OK when the append is durable (or written, for relaxed logs); an error if
// it never will be (sync failure, truncation, close).
using AppendCallback = absl::AnyInvocable<void(absl::Status)>;

struct ReadResult {
  // Whole record batches, as stored. The first batch contains the requested offset, so it may
  // start before it.
  std::string batches;
  // The offset after the last batch returned: where the next read continues.
  Offset next_offset;
};

struct RetentionResult {
  size_t segments_deleted = 0;
  uint64_t bytes_deleted = 0;
};

struct LogRecovery {
  bool clean_shutdown = false;
  size_t segments = 0;
  size_t indexes_rebuilt = 0;
  uint64_t truncated_bytes = 0;
};

struct LogStats {
  Offset start_offset;
  Offset next_offset;
  Offset durable_offset;
  uint64_t size_bytes = 0;
  size_t segment_count = 0;
};

struct LogOptions {
  FileSystem* fs = FileSystem::Default();
  // Required; shared by every log of a process.
  Flusher* flusher = nullptr;
  // Wall-clock milliseconds, for rolling and retention by age. Defaults to the system clock.
  std::function<int64_t()> clock_ms;
  // The log's recovery point (storage/recovery_points.h), if one was recorded: after a crash,
  // data below it is verified but never cut, and a log that ends below it has lost
  // acknowledged records (DataLoss).
  std::optional<int64_t> recovery_point;
};

class Log final : public Flushable {
 public:
  // Opens the log in `dir`, creating it if needed, and recovers it (see the file comment).
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir, const LogConfig& config,
                                                   LogOptions options);
  ~Log() override;
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Validates `batch` (one RecordBatch v2), assigns its offsets and writes it. `on_durable`
  // runs later as described above; it is not called when Append itself fails.
  // Errors: InvalidArgument/ResourceExhausted for a bad or oversized batch (the log is
  // unchanged), ResourceExhausted for a full disk (unchanged too), DataLoss once the log has
  // failed, FailedPrecondition after Close.
  absl::StatusOr<AppendResult> Append(std::string batch, const AppendOptions& options,
                                      AppendCallback on_durable);
  // Append and wait until durable.
  absl::StatusOr<AppendResult> AppendAndWait(std::string batch, const AppendOptions& options = {});

  // Reads whole batches from the one containing `start`, up to about `max_bytes` (at least one
  // batch when any is available) and never past `upper_bound` (default: the log end).
  // OutOfRange when `start` is outside [start_offset, next_offset].
  absl::StatusOr<ReadResult> Read(Offset start, size_t max_bytes,
                                  std::optional<Offset> upper_bound = std::nullopt) const;

  // The same, into a caller's buffer that is reused across reads: on success the batches are
  // buffer[0, ReadSpan::bytes). The buffer only grows, so a consumer loop neither allocates
  // nor zeroes memory per read.
  struct ReadSpan {
    size_t bytes = 0;
    Offset next_offset;
  };
  absl::StatusOr<ReadSpan> ReadInto(Offset start, size_t max_bytes,
                                    std::optional<Offset> upper_bound, std::string* buffer) const;

  // The first offset >= start_offset whose record timestamp is >= `timestamp`; nullopt if no
  // record is that new.
  absl::StatusOr<std::optional<Offset>> FindOffsetByTimestamp(int64_t timestamp) const;

  // Removes every record at or after `offset`, which must be a batch boundary in
  // [start_offset, next_offset]. Durable when it returns; pending appends it removes fail.
  absl::Status TruncateTo(Offset offset);
  // Makes `new_start` (<= next_offset) the first readable offset and deletes the segments
  // wholly below it. Durable when it returns.
  absl::Status DeletePrefix(Offset new_start);
  // Empties the log and makes `start` its start and next offset: a replica installing a
  // snapshot past its own end. Durable when it returns; pending appends fail. A crash part-way
  // reopens as an empty log at `start` (the start offset is persisted first).
  absl::Status ResetTo(Offset start);
  // Deletes the oldest sealed segments that break retention.bytes or retention.ms; nothing
  // when the log's owner enforces retention itself.
  absl::StatusOr<RetentionResult> EnforceRetention();
  // Where retention would move the start offset now (a segment's base offset, so an entry
  // boundary); nullopt when it would delete nothing.
  std::optional<Offset> RetentionPoint() const;
  // A replicated log's start offset moves only with its Raft group's compaction point, so its
  // owner asks RetentionPoint() and deletes through DeletePrefix; the LogManager's retention
  // pass then leaves it alone.
  void SetRetentionByOwner() { retention_by_owner_.store(true, std::memory_order_relaxed); }

  // Checks every batch of every segment (length, CRC, offset sequence) — a full read of the
  // log. Reads and Open skip the CRC of sealed data for speed; this finds bit rot there.
  // DataLoss names the segment and position of the first bad batch.
  absl::Status Verify() const;

  // Applies new settings; segment and retention settings take effect from the next append or
  // retention pass.
  absl::Status UpdateConfig(const LogConfig& config);

  // Syncs everything, completes pending appends and marks the shutdown clean. Idempotent.
  absl::Status Close();

  // The log's settings as they are now.
  LogConfig config() const;
  // The largest batch Append accepts (the config's max_batch_bytes), without taking the lock.
  size_t max_batch_bytes() const { return max_batch_bytes_.load(std::memory_order_relaxed); }

  Offset start_offset() const;
  Offset next_offset() const;
  // The partition leader epoch (Raft term) of the batch holding `offset`, from memory; nullopt
  // for offsets outside [start_offset, next_offset) or written before any epoch entry.
  std::optional<int32_t> EpochAt(Offset offset) const;
  // Every epoch in the log with the offset it starts at (TermIndex).
  std::vector<TermIndex::Entry> epochs() const;
  // Everything below this is on disk.
  Offset durable_offset() const;
  LogStats stats() const;
  const LogRecovery& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

  // Flushable: called by the flusher thread.
  void Flush() override;

 private:
  struct Pending {
    int64_t end_offset;
    AppendCallback callback;
  };

  Log(std::string dir, const LogConfig& config, LogOptions options);
  absl::Status Recover();
  absl::Status MaybeRoll(const format::BatchHeader& header, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckUsable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Persists the start offset, then drops the first `count` segments and deletes their files.
  absl::Status DropOldestSegments(size_t count, int64_t new_start)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteStartOffset(int64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many of the oldest segments break retention now.
  size_t RetentionCountLocked(int64_t now_ms) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads the leader-epochs checkpoint, or rebuilds it from batch headers when it is missing
  // or unreadable, and fits it to the recovered [start, next).
  absl::Status RecoverTermIndex() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteTermIndex() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t SegmentIndexFor(int64_t offset) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Pending> TakePending(int64_t durable_end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  FileSystem* const fs_;
  Flusher* const flusher_;
  const std::function<int64_t()> clock_ms_;
  const std::optional<int64_t> recovery_point_;
  LogRecovery recovery_;
  // config_.max_batch_bytes, readable without the lock.
  std::atomic<size_t> max_batch_bytes_;
  std::atomic<bool> retention_by_owner_{false};

  mutable absl::Mutex mu_;
  LogConfig config_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  int64_t start_offset_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_offset_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t durable_offset_ ABSL_GUARDED_BY(mu_) = 0;
  TermIndex terms_ ABSL_GUARDED_BY(mu_);
  // Bumped by TruncateTo and ResetTo: a sync that began before one covered data that is gone,
  // so it must not advance the durable offset over what was written since.
  uint64_t truncations_ ABSL_GUARDED_BY(mu_) = 0;
  // Segments sealed since the last flush, whose files still need a sync, and whether the
  // directory gained or lost entries since then.
  std::vector<std::shared_ptr<Segment>> unsynced_sealed_ ABSL_GUARDED_BY(mu_);
  bool dir_dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Set when a sync or an undo failed: nothing written since can be trusted to be durable, so
  // the log refuses further work until it is reopened and recovered.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool registered_ = false;
};

}  // namespace rill::storage
