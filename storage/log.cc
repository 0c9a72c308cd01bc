#include "storage/log.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <limits>

#include "absl/strings/match.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "format/big_endian.h"
#include "format/crc32c.h"

namespace rill::storage {
namespace {

// log-start-offset: magic "RLSO", version u16, reserved u16, offset i64, CRC32C of the first
// 16 bytes.
constexpr uint32_t kStartOffsetMagic = 0x524C534F;
constexpr uint16_t kStartOffsetVersion = 1;
constexpr size_t kStartOffsetFileBytes = 20;
constexpr char kCleanShutdownContents[] = "rill clean shutdown v1\n";

std::string EncodeStartOffset(int64_t offset) {
  std::string out(kStartOffsetFileBytes, '\0');
  format::StoreU32(out.data(), kStartOffsetMagic);
  format::StoreU16(out.data() + 4, kStartOffsetVersion);
  format::StoreI64(out.data() + 8, offset);
  format::StoreU32(out.data() + 16, format::Crc32c(std::string_view(out.data(), 16)));
  return out;
}

absl::StatusOr<int64_t> DecodeStartOffset(std::string_view bytes, const std::string& path) {
  if (bytes.size() != kStartOffsetFileBytes || format::LoadU32(bytes.data()) != kStartOffsetMagic ||
      format::LoadU16(bytes.data() + 4) != kStartOffsetVersion ||
      format::LoadU32(bytes.data() + 16) != format::Crc32c(bytes.substr(0, 16))) {
    return absl::DataLossError(fmt::format("{} is corrupt", path));
  }
  int64_t offset = format::LoadI64(bytes.data() + 8);
  if (offset < 0) return absl::DataLossError(fmt::format("{} holds a negative offset", path));
  return offset;
}

}  // namespace

Log::Log(std::string dir, const LogConfig& config, LogOptions options)
    : dir_(std::move(dir)),
      fs_(options.fs),
      flusher_(options.flusher),
      clock_ms_(options.clock_ms ? std::move(options.clock_ms) : base::WallClockMs),
      recovery_point_(options.recovery_point),
      max_batch_bytes_(config.max_batch_bytes),
      config_(config) {}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogConfig& config,
                                               LogOptions options) {
  if (auto s = config.Validate(); !s.ok()) return s;
  RILL_CHECK(options.flusher != nullptr && options.fs != nullptr);
  std::unique_ptr<Log> log(new Log(dir, config, std::move(options)));
  if (auto s = log->Recover(); !s.ok()) {
    absl::MutexLock lock(&log->mu_);
    log->closed_ = true;  // nothing was opened: there is nothing to close
    return s;
  }
  log->flusher_->Register(log.get(), config.flush_interval_ms);
  log->registered_ = true;
  return log;
}

absl::Status Log::Recover() {
  absl::MutexLock lock(&mu_);
  if (auto s = fs_->CreateDirs(dir_); !s.ok()) return s;
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();

  std::vector<int64_t> bases;
  std::vector<std::string> index_files;
  for (const std::string& name : *names) {
    if (auto base = ParseSegmentFileName(name)) {
      bases.push_back(*base);
    } else if (absl::EndsWith(name, ".tmp")) {
      // A checkpoint write that did not finish; the file it was replacing is still whole.
      if (auto s = fs_->Remove(JoinPath(dir_, name)); !s.ok()) return s;
    } else if (absl::EndsWith(name, ".index") || absl::EndsWith(name, ".timeindex")) {
      index_files.push_back(name);
    }
  }
  std::sort(bases.begin(), bases.end());
  for (const std::string& name : index_files) {
    auto log_name = name.substr(0, name.find('.')) + ".log";
    auto base = ParseSegmentFileName(log_name);
    if (!base || !std::binary_search(bases.begin(), bases.end(), *base)) {
      // The index of a segment whose deletion was interrupted.
      if (auto s = fs_->Remove(JoinPath(dir_, name)); !s.ok()) return s;
    }
  }

  int64_t checkpoint_start = 0;
  const std::string start_path = JoinPath(dir_, kStartOffsetFileName);
  if (fs_->Exists(start_path)) {
    auto bytes = ReadWholeFile(fs_, start_path, kStartOffsetFileBytes);
    if (!bytes.ok()) return bytes.status();
    auto decoded = DecodeStartOffset(*bytes, start_path);
    if (!decoded.ok()) return decoded.status();
    checkpoint_start = *decoded;
  }
  const std::string marker_path = JoinPath(dir_, kCleanShutdownFileName);
  recovery_.clean_shutdown = fs_->Exists(marker_path);

  // Segments wholly below the persisted start offset are leftovers of an interrupted deletion.
  while (bases.size() >= 2 && bases[1] <= checkpoint_start) {
    for (const char* ext : {"log", "index", "timeindex"}) {
      auto s = fs_->Remove(JoinPath(dir_, SegmentFileName(bases[0], ext)));
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    bases.erase(bases.begin());
  }

  for (size_t i = 0; i < bases.size(); ++i) {
    bool active = i + 1 == bases.size();
    auto mode = (active && !recovery_.clean_shutdown) ? Segment::OpenMode::kRepairTail
                                                      : Segment::OpenMode::kVerifyTail;
    SegmentRecovery report;
    auto segment =
        Segment::Open(fs_, dir_, bases[i], config_, mode, recovery_point_.value_or(0), &report);
    if (!segment.ok()) {
      return absl::Status(segment.status().code(), fmt::format("log {} cannot be recovered: {}",
                                                               dir_, segment.status().message()));
    }
    if (report.indexes_rebuilt) ++recovery_.indexes_rebuilt;
    recovery_.truncated_bytes += report.truncated_bytes;
    if (report.truncated_bytes > 0) {
      if (auto s = (*segment)->SyncLog(); !s.ok()) return s;
    }
    if (!segments_.empty() && segments_.back()->next_offset() != (*segment)->base_offset()) {
      return absl::DataLossError(
          fmt::format("log {}: segment {} ends at offset {} but the next segment starts at {}",
                      dir_, segments_.back()->base_offset(), segments_.back()->next_offset(),
                      (*segment)->base_offset()));
    }
    segments_.push_back(std::move(*segment));
  }

  const int64_t end = segments_.empty() ? 0 : segments_.back()->next_offset();
  if (recovery_point_ && end < *recovery_point_) {
    return absl::DataLossError(
        fmt::format("log {} ends at offset {}, below its recovery point {}: records that were on "
                    "disk are missing",
                    dir_, end, *recovery_point_));
  }
  if (!segments_.empty() && checkpoint_start > segments_.back()->next_offset()) {
    // Everything up to the start offset was deleted, and the unsynced tail of a relaxed log
    // was lost: continue from the start offset with an empty log.
    logging::Warn("storage", "log {} ends at {} before its start offset {}; starting empty", dir_,
                  segments_.back()->next_offset(), checkpoint_start);
    for (auto& segment : segments_) {
      if (auto s = segment->DeleteFiles(); !s.ok()) return s;
    }
    segments_.clear();
  }
  if (segments_.empty()) {
    auto segment = Segment::Create(fs_, dir_, checkpoint_start, config_);
    if (!segment.ok()) return segment.status();
    segments_.push_back(std::move(*segment));
  }
  start_offset_ = std::max(checkpoint_start, segments_.front()->base_offset());
  next_offset_ = segments_.back()->next_offset();
  durable_offset_ = next_offset_;
  recovery_.segments = segments_.size();
  if (auto s = RecoverTermIndex(); !s.ok()) return s;

  if (recovery_.clean_shutdown) {
    if (auto s = fs_->Remove(marker_path); !s.ok()) return s;
  }
  // New segment files, removals and the marker's removal must be durable before any append is
  // acknowledged, or a crash could look like a clean shutdown.
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
  if (recovery_.truncated_bytes > 0 || recovery_.indexes_rebuilt > 0) {
    logging::Info("storage",
                  "recovered log {}: segments={} start={} end={} truncated_bytes={} "
                  "indexes_rebuilt={}",
                  dir_, segments_.size(), start_offset_, next_offset_, recovery_.truncated_bytes,
                  recovery_.indexes_rebuilt);
  }
  return absl::OkStatus();
}

absl::Status Log::RecoverTermIndex() {
  const std::string path = JoinPath(dir_, kLeaderEpochsFileName);
  const bool exists = fs_->Exists(path);
  bool rewrite = false;
  std::optional<TermIndex> loaded;
  if (exists) {
    constexpr size_t kFileBytesMax = 16 + kLeaderEpochsMax * 12;
    auto bytes = ReadWholeFile(fs_, path, kFileBytesMax);
    auto decoded = bytes.ok() ? TermIndex::Decode(*bytes, path) : bytes.status();
    if (decoded.ok()) {
      loaded = std::move(*decoded);
    } else {
      // The file is derived from the batches themselves, so a damaged one costs a scan, not data.
      logging::Warn("storage", "{}; rebuilding it from the log", decoded.status().message());
    }
  }
  if (loaded) {
    terms_ = std::move(*loaded);
  } else {
    for (const auto& segment : segments_) {
      BatchScanner scanner(segment->log_file(), 0, segment->size_bytes(), /*verify_crc=*/false);
      while (true) {
        auto batch = scanner.Next();
        if (!batch.ok()) return batch.status();
        if (!*batch) break;
        terms_.Observe((*batch)->header.partition_leader_epoch, (*batch)->header.base_offset);
      }
    }
    // A new, empty log needs no file until its first batch.
    rewrite = exists || !terms_.entries().empty();
  }
  // The checkpoint is written before the batch that starts an epoch: a crash in between leaves
  // an entry past the recovered end.
  if (terms_.TruncateFrom(next_offset_)) rewrite = true;
  if (terms_.TruncateBefore(start_offset_)) rewrite = true;
  return rewrite ? WriteTermIndex() : absl::OkStatus();
}

absl::Status Log::WriteTermIndex() {
  return WriteFileAtomically(fs_, JoinPath(dir_, kLeaderEpochsFileName), terms_.Encode());
}

Log::~Log() {
  absl::Status s = Close();
  if (!s.ok()) logging::Error("storage", "closing log {}: {}", dir_, s.message());
}

absl::Status Log::CheckUsable() const {
  if (closed_) return absl::FailedPreconditionError(fmt::format("log {} is closed", dir_));
  return failed_;
}

absl::StatusOr<AppendResult> Log::Append(std::string batch, const AppendOptions& options,
                                         AppendCallback on_durable) {
  // Validation (CRC, every record) is the expensive part of an append: done before taking
  // the lock so concurrent appends only serialize on the write itself.
  const size_t max_batch_bytes = this->max_batch_bytes();
  auto header = options.validated ? format::ParseBatchHeader(batch, max_batch_bytes)
                                  : format::ValidateBatch(batch, {max_batch_bytes});
  if (header.ok() && header->size_bytes() != batch.size()) {
    header = absl::InvalidArgumentError("batch length does not match its bytes");
  }
  if (!header.ok()) return header.status();

  const int64_t now_ms = clock_ms_();
  AppendResult result;
  bool relaxed;
  {
    absl::MutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    if (!options.assign_offsets && header->base_offset != next_offset_) {
      return absl::InvalidArgumentError(
          fmt::format("batch base offset {} does not continue the log at {}", header->base_offset,
                      next_offset_));
    }
    header->base_offset = next_offset_;
    format::SetBaseOffset(&batch, 0, next_offset_);
    if (options.leader_epoch) {
      header->partition_leader_epoch = *options.leader_epoch;
      format::SetPartitionLeaderEpoch(&batch, 0, *options.leader_epoch);
    }
    const std::optional<int32_t> last_epoch = terms_.last_epoch();
    if (last_epoch && header->partition_leader_epoch < *last_epoch) {
      return absl::InvalidArgumentError(
          fmt::format("batch leader epoch {} is below the log's epoch {}",
                      header->partition_leader_epoch, *last_epoch));
    }
    if (auto s = MaybeRoll(*header, now_ms); !s.ok()) return s;
    // A new epoch is checkpointed before its first batch is written, so the file never lacks
    // an epoch that is on disk.
    if (terms_.Observe(header->partition_leader_epoch, next_offset_)) {
      if (auto s = WriteTermIndex(); !s.ok()) {
        terms_.TruncateFrom(next_offset_);
        return s;
      }
    }
    if (auto s = segments_.back()->Append(batch, *header, now_ms); !s.ok()) {
      if (absl::IsDataLoss(s)) failed_ = s;
      return s;
    }
    next_offset_ = header->next_offset();
    result = AppendResult{Offset(header->base_offset), Offset(header->last_offset())};
    relaxed = config_.flush_interval_ms > 0;
    if (!relaxed) pending_.push_back(Pending{next_offset_, std::move(on_durable)});
  }
  if (relaxed) {
    on_durable(absl::OkStatus());
  } else {
    flusher_->Request(this);
  }
  return result;
}

absl::StatusOr<AppendResult> Log::AppendAndWait(std::string batch, const AppendOptions& options) {
  std::promise<absl::Status> durable;
  auto done = durable.get_future();
  auto result = Append(std::move(batch), options,
                       [&durable](absl::Status s) { durable.set_value(std::move(s)); });
  if (!result.ok()) return result.status();
  if (absl::Status s = done.get(); !s.ok()) return s;
  return result;
}

absl::Status Log::MaybeRoll(const format::BatchHeader& header, int64_t now_ms) {
  const std::shared_ptr<Segment>& active = segments_.back();
  if (active->empty()) return absl::OkStatus();
  bool full = active->size_bytes() + header.size_bytes() > config_.segment_bytes;
  bool old = now_ms - active->rolling_base_ms() >= config_.segment_ms;
  // Index entries hold offsets relative to the segment base in 32 bits.
  bool offsets_exhausted =
      header.last_offset() - active->base_offset() > std::numeric_limits<uint32_t>::max();
  if (!full && !old && !offsets_exhausted) return absl::OkStatus();

  auto next = Segment::Create(fs_, dir_, next_offset_, config_);
  if (!next.ok()) return next.status();
  if (auto s = active->Seal(); !s.ok()) {
    // The new, still empty segment file is removed again so the log stays as it was.
    (void)(*next)->DeleteFiles();
    return s;
  }
  unsynced_sealed_.push_back(active);
  segments_.push_back(std::move(*next));
  dir_dirty_ = true;
  return absl::OkStatus();
}

std::vector<Log::Pending> Log::TakePending(int64_t durable_end) {
  std::vector<Pending> done;
  while (!pending_.empty() && pending_.front().end_offset <= durable_end) {
    done.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return done;
}

void Log::Flush() {
  int64_t target;
  std::vector<std::shared_ptr<Segment>> sealed;
  std::shared_ptr<Segment> active;
  bool sync_dir;
  uint64_t truncations;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !failed_.ok()) return;
    target = next_offset_;
    truncations = truncations_;
    sealed.swap(unsynced_sealed_);
    sync_dir = std::exchange(dir_dirty_, false);
    active = segments_.back();
  }
  // Sealed segments first: the active segment's data is only durable once everything before
  // it is.
  absl::Status status;
  for (const auto& segment : sealed) {
    if (status.ok()) status = segment->SyncAll();
  }
  if (status.ok() && sync_dir) status = fs_->SyncDir(dir_);
  if (status.ok()) status = active->SyncLog();

  std::vector<Pending> done;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && truncations != truncations_) {
      // Truncated meanwhile: this sync may have missed what was written since; the next one
      // (already requested by those appends) covers it.
    } else if (status.ok()) {
      durable_offset_ = std::max(durable_offset_, std::min(target, next_offset_));
      done = TakePending(target);
    } else {
      failed_ = absl::DataLossError(fmt::format(
          "log {} failed to sync ({}); it refuses writes until reopened", dir_, status.message()));
      logging::Error("storage", "{}", failed_.message());
      done = TakePending(std::numeric_limits<int64_t>::max());
      status = failed_;
    }
  }
  for (Pending& p : done) p.callback(status);
}

absl::StatusOr<ReadResult> Log::Read(Offset start, size_t max_bytes,
                                     std::optional<Offset> upper_bound) const {
  ReadResult result;
  auto span = ReadInto(start, max_bytes, upper_bound, &result.batches);
  if (!span.ok()) return span.status();
  result.batches.resize(span->bytes);
  result.next_offset = span->next_offset;
  return result;
}

absl::StatusOr<Log::ReadSpan> Log::ReadInto(Offset start, size_t max_bytes,
                                            std::optional<Offset> upper_bound,
                                            std::string* buffer) const {
  struct Part {
    std::shared_ptr<Segment> segment;
    uint64_t position;
    bool position_exact;
    std::optional<uint64_t> boundary;
    uint64_t end;
    int64_t next_offset;
  };
  std::vector<Part> parts;
  int64_t bound;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    if (start.value() < start_offset_ || start.value() > next_offset_) {
      return absl::OutOfRangeError(fmt::format("offset {} is outside the log [{}, {}]",
                                               start.value(), start_offset_, next_offset_));
    }
    bound = upper_bound ? std::min(upper_bound->value(), next_offset_) : next_offset_;
    if (start.value() >= bound) return ReadSpan{0, start};
    uint64_t planned = 0;
    for (size_t i = SegmentIndexFor(start.value()); i < segments_.size(); ++i) {
      const auto& segment = segments_[i];
      if (segment->base_offset() >= bound || (!parts.empty() && planned >= max_bytes)) break;
      Segment::Hint hint = parts.empty() ? segment->PositionHint(start.value())
                                         : Segment::Hint{0, segment->base_offset()};
      uint64_t budget = max_bytes > planned ? max_bytes - planned : 0;
      parts.push_back(Part{segment, hint.position, hint.offset == start.value() || !parts.empty(),
                           segment->BoundaryBefore(hint.position, hint.position + budget),
                           segment->size_bytes(), segment->next_offset()});
      planned += segment->size_bytes() - hint.position;
    }
  }

  size_t used = 0;
  int64_t next = start.value();
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& part = parts[i];
    uint64_t position = part.position;
    if (!part.position_exact) {
      auto found = part.segment->FindBatchPosition(next, position, part.end);
      if (!found.ok()) return found.status();
      position = *found;
    }
    auto read_to = part.segment->ReadBatches(position, part.end, part.boundary, next, max_bytes,
                                             bound, buffer, &used);
    if (!read_to.ok()) return read_to.status();
    next = *read_to;
    if (used >= max_bytes || next >= bound || next < part.next_offset) break;
  }
  return ReadSpan{used, Offset(std::max(next, start.value()))};
}

absl::StatusOr<std::optional<Offset>> Log::FindOffsetByTimestamp(int64_t timestamp) const {
  std::shared_ptr<Segment> segment;
  uint64_t position = 0;
  uint64_t end = 0;
  int64_t start;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    start = start_offset_;
    for (const auto& candidate : segments_) {
      if (candidate->next_offset() > start_offset_ && candidate->max_timestamp() >= timestamp) {
        segment = candidate;
        break;
      }
    }
    if (!segment) return std::nullopt;
    position = segment->TimestampPositionHint(timestamp);
    end = segment->size_bytes();
  }
  auto found = segment->FindOffsetByTimestamp(timestamp, position, end);
  if (!found.ok()) return found.status();
  if (!*found) return std::nullopt;
  return Offset(std::max(**found, start));
}

size_t Log::SegmentIndexFor(int64_t offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](int64_t v, const auto& s) { return v < s->base_offset(); });
  return it == segments_.begin() ? 0 : static_cast<size_t>(it - segments_.begin() - 1);
}

absl::Status Log::TruncateTo(Offset offset) {
  std::vector<Pending> removed;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    const int64_t target = offset.value();
    if (target < start_offset_ || target > next_offset_) {
      return absl::OutOfRangeError(fmt::format("cannot truncate to {}: outside [{}, {}]", target,
                                               start_offset_, next_offset_));
    }
    if (target == next_offset_) return absl::OkStatus();
    const size_t keep = SegmentIndexFor(target);
    if (auto boundary = segments_[keep]->BatchBoundary(target); !boundary.ok()) {
      return absl::Status(boundary.status().code(), fmt::format("cannot truncate to {}: {}", target,
                                                                boundary.status().message()));
    }
    // Newest first, so that a crash part-way leaves a shorter but still contiguous log.
    while (segments_.size() > keep + 1) {
      std::shared_ptr<Segment> victim = segments_.back();
      if (auto s = victim->DeleteFiles(); !s.ok()) return s;
      segments_.pop_back();
      std::erase(unsynced_sealed_, victim);
    }
    status = fs_->SyncDir(dir_);
    if (status.ok()) status = segments_.back()->TruncateTo(target);
    if (status.ok()) status = segments_.back()->SyncLog();
    // A stale epoch left in the checkpoint would be taken for the epoch of what is appended
    // at `target` next, so the truncation is not done until the checkpoint agrees.
    if (status.ok() && terms_.TruncateFrom(target)) status = WriteTermIndex();
    if (!status.ok()) {
      failed_ =
          absl::DataLossError(fmt::format("log {} failed to truncate: {}", dir_, status.message()));
      removed = TakePending(std::numeric_limits<int64_t>::max());
      status = failed_;
    } else {
      next_offset_ = target;
      durable_offset_ = std::min(durable_offset_, target);
      ++truncations_;

      // Appends above the new end will never become durable: they no longer exist.
      while (!pending_.empty() && pending_.back().end_offset > target) {
        removed.push_back(std::move(pending_.back()));
        pending_.pop_back();
      }
    }
  }
  for (Pending& p : removed) {
    p.callback(status.ok() ? absl::AbortedError("append was removed by a truncation") : status);
  }
  return status;
}

absl::Status Log::ResetTo(Offset start) {
  std::vector<Pending> removed;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    if (start.value() < 0) {
      return absl::InvalidArgumentError(fmt::format("cannot reset log {} to {}", dir_, start));
    }
    status = WriteStartOffset(start.value());
    // Newest first, as TruncateTo does; what a crash leaves is ended by the start offset.
    while (status.ok() && !segments_.empty()) {
      std::shared_ptr<Segment> victim = segments_.back();
      status = victim->DeleteFiles();
      if (!status.ok()) break;
      segments_.pop_back();
      std::erase(unsynced_sealed_, victim);
    }
    if (status.ok()) {
      auto segment = Segment::Create(fs_, dir_, start.value(), config_);
      status = segment.status();
      if (segment.ok()) segments_.push_back(std::move(*segment));
    }
    if (status.ok()) status = fs_->SyncDir(dir_);
    if (status.ok()) {
      terms_ = TermIndex();
      status = WriteTermIndex();
    }
    if (!status.ok()) {
      failed_ =
          absl::DataLossError(fmt::format("log {} failed to reset: {}", dir_, status.message()));
      status = failed_;
    } else {
      start_offset_ = next_offset_ = durable_offset_ = start.value();
      ++truncations_;
    }
    removed = TakePending(std::numeric_limits<int64_t>::max());
  }
  for (Pending& p : removed) {
    p.callback(status.ok() ? absl::AbortedError("append was removed by a reset") : status);
  }
  return status;
}

absl::Status Log::WriteStartOffset(int64_t offset) {
  return WriteFileAtomically(fs_, JoinPath(dir_, kStartOffsetFileName), EncodeStartOffset(offset));
}

absl::Status Log::DropOldestSegments(size_t count, int64_t new_start) {
  RILL_CHECK(count < segments_.size());
  // The start offset is persisted first: should the deletions be cut short, the next Open
  // finishes them.
  if (new_start > start_offset_) {
    if (auto s = WriteStartOffset(new_start); !s.ok()) return s;
    start_offset_ = new_start;
    if (terms_.TruncateBefore(new_start)) {
      if (auto s = WriteTermIndex(); !s.ok()) return s;
    }
  }
  if (count == 0) return absl::OkStatus();
  for (size_t i = 0; i < count; ++i) {
    std::erase(unsynced_sealed_, segments_[i]);
    if (auto s = segments_[i]->DeleteFiles(); !s.ok()) return s;
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(count));
  return fs_->SyncDir(dir_);
}

absl::Status Log::DeletePrefix(Offset new_start) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckUsable(); !s.ok()) return s;
  if (new_start.value() > next_offset_) {
    return absl::OutOfRangeError(
        fmt::format("cannot start the log at {}: it ends at {}", new_start.value(), next_offset_));
  }
  if (new_start.value() <= start_offset_) return absl::OkStatus();
  size_t count = 0;
  while (count + 1 < segments_.size() && segments_[count + 1]->base_offset() <= new_start.value()) {
    ++count;
  }
  return DropOldestSegments(count, new_start.value());
}

size_t Log::RetentionCountLocked(int64_t now_ms) const {
  const size_t sealed = segments_.size() - 1;
  size_t count = 0;
  if (config_.retention_ms >= 0) {
    while (count < sealed && segments_[count]->max_timestamp() < now_ms - config_.retention_ms) {
      ++count;
    }
  }
  if (config_.retention_bytes >= 0) {
    uint64_t remaining = 0;
    for (size_t i = count; i < segments_.size(); ++i) remaining += segments_[i]->size_bytes();
    while (count < sealed && remaining - segments_[count]->size_bytes() >=
                                 static_cast<uint64_t>(config_.retention_bytes)) {
      remaining -= segments_[count]->size_bytes();
      ++count;
    }
  }
  return count;
}

std::optional<Offset> Log::RetentionPoint() const {
  const int64_t now_ms = clock_ms_();
  absl::MutexLock lock(&mu_);
  if (!CheckUsable().ok()) return std::nullopt;
  const size_t count = RetentionCountLocked(now_ms);
  if (count == 0) return std::nullopt;
  return Offset(segments_[count]->base_offset());
}

absl::StatusOr<RetentionResult> Log::EnforceRetention() {
  RetentionResult result;
  if (retention_by_owner_.load(std::memory_order_relaxed)) return result;
  const int64_t now_ms = clock_ms_();
  absl::MutexLock lock(&mu_);
  if (auto s = CheckUsable(); !s.ok()) return s;
  const size_t count = RetentionCountLocked(now_ms);
  if (count == 0) return result;
  for (size_t i = 0; i < count; ++i) result.bytes_deleted += segments_[i]->size_bytes();
  result.segments_deleted = count;
  int64_t new_start = segments_[count]->base_offset();
  if (auto s = DropOldestSegments(count, new_start); !s.ok()) return s;
  logging::Debug("storage", "retention deleted {} segments ({} bytes) of {}; start offset {}",
                 count, result.bytes_deleted, dir_, start_offset_);
  return result;
}

absl::Status Log::Verify() const {
  std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> segments;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto s = CheckUsable(); !s.ok()) return s;
    for (const auto& segment : segments_) segments.emplace_back(segment, segment->size_bytes());
  }
  int64_t expected = segments.front().first->base_offset();
  for (const auto& [segment, end] : segments) {
    BatchScanner scanner(segment->log_file(), 0, end, /*verify_crc=*/true);
    while (true) {
      auto batch = scanner.Next();
      if (!batch.ok()) {
        return absl::DataLossError(
            fmt::format("{}: {}", segment->log_path(), batch.status().message()));
      }
      if (!*batch) break;
      if ((*batch)->header.base_offset != expected) {
        return absl::DataLossError(fmt::format(
            "{}: batch at position {} has base offset {}, expected {}", segment->log_path(),
            (*batch)->position, (*batch)->header.base_offset, expected));
      }
      expected = (*batch)->header.next_offset();
    }
  }
  return absl::OkStatus();
}

LogConfig Log::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

absl::Status Log::UpdateConfig(const LogConfig& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    config_ = config;
    max_batch_bytes_.store(config.max_batch_bytes, std::memory_order_relaxed);
  }
  flusher_->Register(this, config.flush_interval_ms);
  return absl::OkStatus();
}

absl::Status Log::Close() {
  if (registered_) {
    flusher_->Unregister(this);
    registered_ = false;
  }
  std::vector<Pending> done;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    status = failed_;
    for (const auto& segment : unsynced_sealed_) {
      if (status.ok()) status = segment->SyncAll();
    }
    unsynced_sealed_.clear();
    if (status.ok()) status = segments_.back()->Seal();
    if (status.ok()) status = segments_.back()->SyncAll();
    if (status.ok()) {
      status =
          WriteFileAtomically(fs_, JoinPath(dir_, kCleanShutdownFileName), kCleanShutdownContents);
    }
    if (status.ok()) durable_offset_ = next_offset_;
    done = TakePending(std::numeric_limits<int64_t>::max());
  }
  for (Pending& p : done) p.callback(status);
  return status;
}

Offset Log::start_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return Offset(start_offset_);
}

std::optional<int32_t> Log::EpochAt(Offset offset) const {
  absl::ReaderMutexLock lock(&mu_);
  if (offset.value() < start_offset_ || offset.value() >= next_offset_) return std::nullopt;
  return terms_.EpochAt(offset.value());
}

std::vector<TermIndex::Entry> Log::epochs() const {
  absl::ReaderMutexLock lock(&mu_);
  return terms_.entries();
}

Offset Log::next_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return Offset(next_offset_);
}

Offset Log::durable_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return Offset(durable_offset_);
}

LogStats Log::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  LogStats stats{Offset(start_offset_), Offset(next_offset_), Offset(durable_offset_), 0,
                 segments_.size()};
  for (const auto& segment : segments_) stats.size_bytes += segment->size_bytes();
  return stats;
}

}  // namespace rill::storage
