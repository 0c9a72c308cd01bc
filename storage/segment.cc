#include "storage/segment.h"

#include <algorithm>
#include <charconv>

#include "base/fmt_absl.h"
#include "base/logging.h"
#include "fmt/format.h"

namespace rill::storage {

using format::BatchHeader;

namespace {
// Lookups start from an index hint about one index interval before their target.
constexpr size_t kLookupChunkBytes = size_t{4} << 10;
constexpr size_t kOffsetDigits = 20;
}  // namespace

std::string SegmentFileName(int64_t base_offset, std::string_view extension) {
  return fmt::format("{:020d}.{}", base_offset, extension);
}

std::optional<int64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != kOffsetDigits + 4 || name.substr(kOffsetDigits) != ".log") {
    return std::nullopt;
  }
  int64_t base = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + kOffsetDigits, base);
  if (ec != std::errc() || end != name.data() + kOffsetDigits || base < 0) return std::nullopt;
  return base;
}

BatchScanner::BatchScanner(const File* file, uint64_t start, uint64_t end, bool verify_crc,
                           size_t chunk_bytes)
    : file_(file),
      position_(start),
      end_(end),
      verify_crc_(verify_crc),
      chunk_bytes_(chunk_bytes) {}

absl::Status BatchScanner::Fill(uint64_t position, size_t size) {
  if (position >= buffer_start_ && position + size <= buffer_start_ + buffer_.size()) {
    return absl::OkStatus();
  }
  size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(size, chunk_bytes_), end_ - position));
  if (auto s = file_->ReadAt(position, want, &buffer_); !s.ok()) return s;
  buffer_start_ = position;
  if (buffer_.size() < size) {
    return absl::DataLossError(fmt::format("file ends at {}, inside the batch at {}",
                                           position + buffer_.size(), position));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<BatchScanner::Batch>> BatchScanner::Next() {
  if (position_ >= end_) return std::nullopt;
  uint64_t remaining = end_ - position_;
  if (remaining < format::kBatchHeaderBytes) {
    return absl::DataLossError(
        fmt::format("incomplete batch header of {} bytes at position {}", remaining, position_));
  }
  if (auto s = Fill(position_, format::kBatchHeaderBytes); !s.ok()) return s;
  auto at = [&](uint64_t pos) { return buffer_.data() + (pos - buffer_start_); };
  auto header = format::ParseBatchHeader(std::string_view(at(position_), format::kBatchHeaderBytes),
                                         kMaxStoredBatchBytes);
  if (!header.ok()) {
    return absl::DataLossError(
        fmt::format("invalid batch at position {}: {}", position_, header.status().message()));
  }
  size_t size = header->size_bytes();
  if (size > remaining) {
    return absl::DataLossError(fmt::format(
        "batch at position {} claims {} bytes but only {} remain", position_, size, remaining));
  }
  if (auto s = Fill(position_, size); !s.ok()) return s;
  std::string_view bytes(at(position_), size);
  if (verify_crc_) {
    uint32_t crc = format::ComputeBatchCrc(bytes);
    if (crc != header->crc) {
      return absl::DataLossError(fmt::format(
          "CRC mismatch in batch at position {} (offset {}): stored {:#010x}, computed {:#010x}",
          position_, header->base_offset, header->crc, crc));
    }
  }
  Batch batch{*header, position_, bytes};
  position_ += size;
  return batch;
}

Segment::Segment(FileSystem* fs, std::string dir, int64_t base_offset, const LogConfig& config,
                 std::unique_ptr<File> log)
    : fs_(fs),
      dir_(std::move(dir)),
      base_offset_(base_offset),
      index_interval_bytes_(config.index_interval_bytes),
      log_(std::move(log)),
      next_offset_(base_offset) {}

std::string Segment::PathFor(std::string_view extension) const {
  return JoinPath(dir_, SegmentFileName(base_offset_, extension));
}

std::string Segment::log_path() const { return PathFor("log"); }

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(FileSystem* fs, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config) {
  auto file = fs->Open(JoinPath(dir, SegmentFileName(base_offset, "log")), /*create=*/true);
  if (!file.ok()) return file.status();
  if (auto s = (*file)->Truncate(0); !s.ok()) return s;
  std::shared_ptr<Segment> segment(new Segment(fs, dir, base_offset, config, std::move(*file)));
  if (auto s = segment->CreateIndexes(); !s.ok()) return s;
  return segment;
}

absl::Status Segment::CreateIndexes() {
  auto offset_index = OffsetIndex::Create(fs_, PathFor("index"), base_offset_);
  if (!offset_index.ok()) return offset_index.status();
  auto time_index = TimeIndex::Create(fs_, PathFor("timeindex"), base_offset_);
  if (!time_index.ok()) return time_index.status();
  offset_index_.emplace(std::move(*offset_index));
  time_index_.emplace(std::move(*time_index));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(FileSystem* fs, const std::string& dir,
                                                       int64_t base_offset, const LogConfig& config,
                                                       OpenMode mode, int64_t recovery_point,
                                                       SegmentRecovery* recovery) {
  auto file = fs->Open(JoinPath(dir, SegmentFileName(base_offset, "log")), /*create=*/false);
  if (!file.ok()) return file.status();
  std::shared_ptr<Segment> segment(new Segment(fs, dir, base_offset, config, std::move(*file)));
  if (mode == OpenMode::kRepairTail) {
    if (auto s = segment->ScanAndRebuild(mode, recovery_point, recovery); !s.ok()) return s;
    return segment;
  }
  absl::Status loaded = segment->LoadIndexesAndVerifyTail();
  if (loaded.ok()) return segment;
  // The indexes did not check out against the log; the log alone decides whether the data is
  // intact, so rebuild from it and report DataLoss only if the log itself is bad.
  logging::Info("storage", "rebuilding indexes of {}: {}", segment->log_path(), loaded.message());
  recovery->indexes_rebuilt = true;
  if (auto s = segment->ScanAndRebuild(mode, recovery_point, recovery); !s.ok()) return s;
  return segment;
}

absl::Status Segment::LoadIndexesAndVerifyTail() {
  auto file_size = log_->Size();
  if (!file_size.ok()) return file_size.status();
  auto offset_index = OffsetIndex::Load(fs_, PathFor("index"), base_offset_, *file_size);
  if (!offset_index.ok()) return offset_index.status();
  auto time_index = TimeIndex::Load(fs_, PathFor("timeindex"), base_offset_, *file_size);
  if (!time_index.ok()) return time_index.status();

  uint64_t start = 0;
  int64_t expected = base_offset_;
  if (auto last = offset_index->last()) {
    start = last->position;
    expected = base_offset_ + last->relative_offset;
  }
  int64_t max_timestamp = kNoTimestamp;
  if (auto last = time_index->last()) max_timestamp = last->timestamp;
  int64_t rolling_base = kNoTimestamp;

  BatchScanner scanner(log_.get(), start, *file_size, /*verify_crc=*/true);
  while (true) {
    auto batch = scanner.Next();
    if (!batch.ok()) return batch.status();
    if (!*batch) break;
    const BatchHeader& h = (*batch)->header;
    if (h.base_offset != expected) {
      return absl::DataLossError(fmt::format("batch at position {} has base offset {}, expected {}",
                                             (*batch)->position, h.base_offset, expected));
    }
    if ((*batch)->position == 0) rolling_base = h.max_timestamp;
    expected = h.next_offset();
    max_timestamp = std::max(max_timestamp, h.max_timestamp);
  }
  if (auto last = time_index->last(); last && base_offset_ + last->relative_offset >= expected) {
    return absl::DataLossError("time index points past the end of the log");
  }
  if (*file_size > 0 && start > 0) {
    std::string header;
    if (auto s = log_->ReadAt(0, format::kBatchHeaderBytes, &header); !s.ok()) return s;
    auto first = format::ParseBatchHeader(header, kMaxStoredBatchBytes);
    if (!first.ok()) return absl::DataLossError(first.status().message());
    rolling_base = first->max_timestamp;
  }

  offset_index_.emplace(std::move(*offset_index));
  time_index_.emplace(std::move(*time_index));
  size_bytes_ = *file_size;
  next_offset_ = expected;
  max_timestamp_ = max_timestamp;
  rolling_base_ms_ = rolling_base;
  bytes_since_offset_entry_ = *file_size - start;
  bytes_since_time_entry_ = *file_size - start;
  return absl::OkStatus();
}

absl::Status Segment::ScanAndRebuild(OpenMode mode, int64_t recovery_point,
                                     SegmentRecovery* recovery) {
  auto file_size = log_->Size();
  if (!file_size.ok()) return file_size.status();
  if (auto s = CreateIndexes(); !s.ok()) return s;
  size_bytes_ = 0;
  next_offset_ = base_offset_;
  max_timestamp_ = kNoTimestamp;
  rolling_base_ms_ = kNoTimestamp;
  bytes_since_offset_entry_ = 0;
  bytes_since_time_entry_ = 0;

  std::string problem;
  BatchScanner scanner(log_.get(), 0, *file_size, /*verify_crc=*/true);
  while (true) {
    auto batch = scanner.Next();
    if (!batch.ok()) {
      problem = std::string(batch.status().message());
      break;
    }
    if (!*batch) break;
    const BatchHeader& h = (*batch)->header;
    if (h.base_offset != next_offset_) {
      problem = fmt::format("batch at position {} has base offset {}, expected {}",
                            (*batch)->position, h.base_offset, next_offset_);
      break;
    }
    if (auto s = Index(h, (*batch)->position); !s.ok()) return s;
    if ((*batch)->position == 0) rolling_base_ms_ = h.max_timestamp;
  }
  if (problem.empty()) return absl::OkStatus();
  if (mode == OpenMode::kVerifyTail) {
    return absl::DataLossError(fmt::format("{}: {}", log_path(), problem));
  }
  if (next_offset_ < recovery_point) {
    return absl::DataLossError(
        fmt::format("{}: batch at offset {} (position {}) lies below the recovery point {}, so "
                    "it was on disk and acknowledged, and it is invalid: {}",
                    log_path(), next_offset_, size_bytes_, recovery_point, problem));
  }
  recovery->truncated_bytes = *file_size - size_bytes_;
  recovery->truncation_reason = problem;
  logging::Warn("storage", "truncating {} at position {} ({} bytes dropped): {}", log_path(),
                size_bytes_, recovery->truncated_bytes, problem);
  return log_->Truncate(size_bytes_);
}

absl::Status Segment::Index(const BatchHeader& header, uint64_t position) {
  uint64_t size = header.size_bytes();
  if (position > 0 && bytes_since_offset_entry_ >= index_interval_bytes_) {
    auto entry = OffsetIndexEntry{Relative(header.base_offset), static_cast<uint32_t>(position)};
    if (auto s = offset_index_->Append(entry); !s.ok()) return s;
    bytes_since_offset_entry_ = 0;
  }
  bytes_since_offset_entry_ += size;
  size_bytes_ = position + size;
  next_offset_ = header.next_offset();
  max_timestamp_ = std::max(max_timestamp_, header.max_timestamp);
  bytes_since_time_entry_ += size;
  auto last_time = time_index_->last();
  if (bytes_since_time_entry_ >= index_interval_bytes_ && max_timestamp_ != kNoTimestamp &&
      (!last_time || max_timestamp_ > last_time->timestamp)) {
    auto entry = TimeIndexEntry{max_timestamp_, Relative(header.last_offset())};
    if (auto s = time_index_->Append(entry); !s.ok()) return s;
    bytes_since_time_entry_ = 0;
  }
  return absl::OkStatus();
}

absl::Status Segment::Append(std::string_view batch, const BatchHeader& header, int64_t now_ms) {
  const uint64_t position = size_bytes_;
  const size_t offset_entries = offset_index_->entries().size();
  const size_t time_entries = time_index_->entries().size();
  const auto saved =
      std::tuple(next_offset_, max_timestamp_, bytes_since_offset_entry_, bytes_since_time_entry_);

  absl::Status status = log_->WriteAt(position, batch);
  if (status.ok()) status = Index(header, position);
  if (status.ok()) {
    if (rolling_base_ms_ == kNoTimestamp) rolling_base_ms_ = now_ms;
    return absl::OkStatus();
  }
  // Undo whatever part of the write or the index entries reached the files, so that a
  // failed append (say, a full disk) leaves the segment as it was.
  std::tie(next_offset_, max_timestamp_, bytes_since_offset_entry_, bytes_since_time_entry_) =
      saved;
  size_bytes_ = position;
  absl::Status undo = log_->Truncate(position);
  if (undo.ok()) undo = offset_index_->TruncateEntries(offset_entries);
  if (undo.ok()) undo = time_index_->TruncateEntries(time_entries);
  if (!undo.ok()) {
    return absl::DataLossError(fmt::format("append failed ({}) and could not be undone: {}",
                                           status.message(), undo.message()));
  }
  return status;
}

absl::Status Segment::Seal() {
  if (max_timestamp_ == kNoTimestamp) return absl::OkStatus();
  auto last = time_index_->last();
  if (last && last->timestamp >= max_timestamp_) return absl::OkStatus();
  return time_index_->Append(TimeIndexEntry{max_timestamp_, Relative(next_offset_ - 1)});
}

absl::Status Segment::SyncAll() {
  if (auto s = log_->Sync(); !s.ok()) return s;
  if (auto s = offset_index_->Sync(); !s.ok()) return s;
  return time_index_->Sync();
}

Segment::Hint Segment::PositionHint(int64_t offset) const {
  if (offset <= base_offset_) return Hint{0, base_offset_};
  auto entry = LookupOffset(*offset_index_, Relative(offset));
  if (!entry) return Hint{0, base_offset_};
  return Hint{entry->position, base_offset_ + entry->relative_offset};
}

std::optional<uint64_t> Segment::BoundaryBefore(uint64_t from, uint64_t limit) const {
  if (size_bytes_ <= limit)
    return size_bytes_ > from ? std::optional<uint64_t>(size_bytes_) : std::nullopt;
  const auto& entries = offset_index_->entries();
  auto it = std::upper_bound(entries.begin(), entries.end(), limit,
                             [](uint64_t v, const OffsetIndexEntry& e) { return v < e.position; });
  if (it == entries.begin()) return std::nullopt;
  uint64_t position = std::prev(it)->position;
  return position > from ? std::optional<uint64_t>(position) : std::nullopt;
}

uint64_t Segment::TimestampPositionHint(int64_t timestamp) const {
  auto entry = LookupTimestampBefore(*time_index_, timestamp);
  if (!entry) return 0;
  return PositionHint(base_offset_ + entry->relative_offset + 1).position;
}

absl::StatusOr<uint64_t> Segment::FindBatchPosition(int64_t offset, uint64_t hint,
                                                    uint64_t end) const {
  BatchScanner scanner(log_.get(), hint, end, /*verify_crc=*/false, kLookupChunkBytes);
  while (true) {
    auto batch = scanner.Next();
    if (!batch.ok()) {
      return absl::DataLossError(fmt::format("{}: {}", log_path(), batch.status().message()));
    }
    if (!*batch) return end;
    if ((*batch)->header.next_offset() > offset) return (*batch)->position;
  }
}

absl::StatusOr<int64_t> Segment::ReadBatches(uint64_t position, uint64_t end,
                                             std::optional<uint64_t> boundary,
                                             int64_t expected_offset, size_t max_bytes,
                                             int64_t upper_bound, std::string* buffer,
                                             size_t* used) const {
  const size_t start = *used;
  const bool must_take_one = start == 0;
  size_t want = max_bytes > start ? max_bytes - start : 0;
  if (must_take_one) want = std::max(want, format::kBatchHeaderBytes);
  want = static_cast<size_t>(std::min<uint64_t>(want, end - position));
  if (boundary && *boundary > position && *boundary - position <= want) {
    want = static_cast<size_t>(*boundary - position);
  }
  auto read = [&](uint64_t from, size_t size, size_t at) -> absl::Status {
    if (buffer->size() < at + size) buffer->resize(at + size);
    auto n = log_->Read(from, size, buffer->data() + at);
    if (!n.ok()) return n.status();
    if (*n != size)
      return absl::DataLossError(fmt::format("{}: short read at {}", log_path(), from));
    return absl::OkStatus();
  };
  if (auto s = read(position, want, start); !s.ok()) return s;

  size_t taken = 0;
  int64_t next = expected_offset;
  bool first = true;
  while (taken + format::kBatchHeaderBytes <= want) {
    auto header = format::ParseBatchHeader(
        std::string_view(buffer->data() + start + taken, format::kBatchHeaderBytes),
        kMaxStoredBatchBytes);
    if (!header.ok()) {
      return absl::DataLossError(fmt::format("{}: invalid batch at position {}: {}", log_path(),
                                             position + taken, header.status().message()));
    }
    bool continues = first ? (header->base_offset <= next && next < header->next_offset())
                           : header->base_offset == next;
    if (!continues || position + taken + header->size_bytes() > end) {
      return absl::DataLossError(fmt::format(
          "{}: batch at position {} (offset {}) breaks the log's offset sequence or bounds",
          log_path(), position + taken, header->base_offset));
    }
    if (header->next_offset() > upper_bound) break;
    size_t size = header->size_bytes();
    if (taken + size > want) {
      if (!(must_take_one && first)) break;
      // A batch larger than the read budget is still returned whole when it comes first.
      if (auto s = read(position + want, size - want, start + want); !s.ok()) return s;
      want = size;
    }
    taken += size;
    next = header->next_offset();
    first = false;
    if (must_take_one && taken >= max_bytes) break;
  }
  *used = start + taken;
  return next;
}

absl::StatusOr<std::optional<int64_t>> Segment::FindOffsetByTimestamp(int64_t timestamp,
                                                                      uint64_t position,
                                                                      uint64_t end) const {
  BatchScanner scanner(log_.get(), position, end, /*verify_crc=*/false);
  while (true) {
    auto batch = scanner.Next();
    if (!batch.ok()) {
      return absl::DataLossError(fmt::format("{}: {}", log_path(), batch.status().message()));
    }
    if (!*batch) return std::nullopt;
    const BatchHeader& h = (*batch)->header;
    if (h.max_timestamp < timestamp) continue;
    if (h.compression() != format::Compression::kNone ||
        h.timestamp_type() == format::TimestampType::kLogAppendTime) {
      return h.base_offset;
    }
    format::RecordReader reader((*batch)->bytes, h);
    format::RecordView record;
    while (reader.Next(&record)) {
      if (h.base_timestamp + record.timestamp_delta >= timestamp) {
        return h.base_offset + record.offset_delta;
      }
    }
    if (!reader.status().ok()) {
      return absl::DataLossError(fmt::format("{}: batch at offset {}: {}", log_path(),
                                             h.base_offset, reader.status().message()));
    }
  }
}

absl::StatusOr<uint64_t> Segment::BatchBoundary(int64_t offset) const {
  if (offset == next_offset_) return size_bytes_;
  auto position = FindBatchPosition(offset, PositionHint(offset).position, size_bytes_);
  if (!position.ok()) return position.status();
  std::string header;
  if (auto s = log_->ReadAt(*position, format::kBatchHeaderBytes, &header); !s.ok()) return s;
  auto parsed = format::ParseBatchHeader(header, kMaxStoredBatchBytes);
  if (!parsed.ok()) return absl::DataLossError(parsed.status().message());
  if (parsed->base_offset != offset) {
    return absl::InvalidArgumentError(
        fmt::format("offset {} is inside the batch starting at {}", offset, parsed->base_offset));
  }
  return *position;
}

absl::Status Segment::TruncateTo(int64_t offset) {
  if (offset == next_offset_) return absl::OkStatus();
  auto position = BatchBoundary(offset);
  if (!position.ok()) return position.status();
  if (auto s = log_->Truncate(*position); !s.ok()) return s;
  SegmentRecovery unused;
  return ScanAndRebuild(OpenMode::kVerifyTail, 0, &unused);
}

absl::Status Segment::DeleteFiles() {
  for (const char* extension : {"log", "index", "timeindex"}) {
    absl::Status s = fs_->Remove(PathFor(extension));
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

}  // namespace rill::storage
