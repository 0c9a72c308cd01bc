#include "storage/segment_index.h"

#include <algorithm>

#include "base/fmt_absl.h"
#include "format/big_endian.h"

namespace rill::storage {

using format::LoadI64;
using format::LoadU16;
using format::LoadU32;
using format::StoreI64;
using format::StoreU16;
using format::StoreU32;

template <>
struct IndexCodec<OffsetIndexEntry> {
  static constexpr uint16_t kKind = 1;
  static constexpr size_t kEntryBytes = 8;
  static void Encode(const OffsetIndexEntry& e, char* out) {
    StoreU32(out, e.relative_offset);
    StoreU32(out + 4, e.position);
  }
  static OffsetIndexEntry Decode(const char* in) { return {LoadU32(in), LoadU32(in + 4)}; }
  static bool InOrder(const OffsetIndexEntry& a, const OffsetIndexEntry& b) {
    return a.relative_offset < b.relative_offset && a.position < b.position;
  }
  static bool Fits(const OffsetIndexEntry& e, uint64_t log_size_bytes) {
    return e.position < log_size_bytes;
  }
};

template <>
struct IndexCodec<TimeIndexEntry> {
  static constexpr uint16_t kKind = 2;
  static constexpr size_t kEntryBytes = 12;
  static void Encode(const TimeIndexEntry& e, char* out) {
    StoreI64(out, e.timestamp);
    StoreU32(out + 8, e.relative_offset);
  }
  static TimeIndexEntry Decode(const char* in) { return {LoadI64(in), LoadU32(in + 8)}; }
  static bool InOrder(const TimeIndexEntry& a, const TimeIndexEntry& b) {
    return a.timestamp < b.timestamp && a.relative_offset <= b.relative_offset;
  }
  static bool Fits(const TimeIndexEntry&, uint64_t) { return true; }
};

namespace {
std::string EncodeHeader(uint16_t kind, int64_t base_offset) {
  std::string header(kIndexHeaderBytes, '\0');
  StoreU32(header.data(), kIndexMagic);
  StoreU16(header.data() + 4, kIndexFormatVersion);
  StoreU16(header.data() + 6, kind);
  StoreI64(header.data() + 8, base_offset);
  return header;
}
}  // namespace

template <typename Entry>
absl::StatusOr<SegmentIndex<Entry>> SegmentIndex<Entry>::Create(FileSystem* fs,
                                                                const std::string& path,
                                                                int64_t base_offset) {
  auto file = fs->Open(path, /*create=*/true);
  if (!file.ok()) return file.status();
  if (auto s = (*file)->Truncate(0); !s.ok()) return s;
  if (auto s = (*file)->WriteAt(0, EncodeHeader(IndexCodec<Entry>::kKind, base_offset)); !s.ok()) {
    return s;
  }
  return SegmentIndex(std::move(*file), {});
}

template <typename Entry>
absl::StatusOr<SegmentIndex<Entry>> SegmentIndex<Entry>::Load(FileSystem* fs,
                                                              const std::string& path,
                                                              int64_t base_offset,
                                                              uint64_t log_size_bytes) {
  using Codec = IndexCodec<Entry>;
  auto file = fs->Open(path, /*create=*/false);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size < kIndexHeaderBytes || (*size - kIndexHeaderBytes) % Codec::kEntryBytes != 0) {
    return absl::DataLossError(fmt::format("{}: size {} is not a whole index", path, *size));
  }
  std::string bytes;
  if (auto s = (*file)->ReadAt(0, *size, &bytes); !s.ok()) return s;
  if (bytes.size() != *size) return absl::DataLossError(fmt::format("{}: short read", path));
  if (bytes.compare(0, kIndexHeaderBytes, EncodeHeader(Codec::kKind, base_offset)) != 0) {
    return absl::DataLossError(fmt::format("{}: bad header (magic, version, kind or base)", path));
  }
  std::vector<Entry> entries;
  entries.reserve((*size - kIndexHeaderBytes) / Codec::kEntryBytes);
  for (size_t pos = kIndexHeaderBytes; pos < bytes.size(); pos += Codec::kEntryBytes) {
    Entry e = Codec::Decode(bytes.data() + pos);
    if (!Codec::Fits(e, log_size_bytes) ||
        (!entries.empty() && !Codec::InOrder(entries.back(), e))) {
      return absl::DataLossError(
          fmt::format("{}: entry {} is out of order or out of range", path, entries.size()));
    }
    entries.push_back(e);
  }
  return SegmentIndex(std::move(*file), std::move(entries));
}

template <typename Entry>
absl::Status SegmentIndex<Entry>::Append(const Entry& entry) {
  char buf[IndexCodec<Entry>::kEntryBytes];
  IndexCodec<Entry>::Encode(entry, buf);
  uint64_t pos = kIndexHeaderBytes + entries_.size() * sizeof buf;
  if (auto s = file_->WriteAt(pos, std::string_view(buf, sizeof buf)); !s.ok()) return s;
  entries_.push_back(entry);
  return absl::OkStatus();
}

template <typename Entry>
absl::Status SegmentIndex<Entry>::TruncateEntries(size_t keep) {
  if (keep >= entries_.size()) return absl::OkStatus();
  entries_.resize(keep);
  return file_->Truncate(kIndexHeaderBytes + keep * IndexCodec<Entry>::kEntryBytes);
}

template class SegmentIndex<OffsetIndexEntry>;
template class SegmentIndex<TimeIndexEntry>;

std::optional<OffsetIndexEntry> LookupOffset(const OffsetIndex& index, uint32_t relative_offset) {
  const auto& e = index.entries();
  auto it =
      std::upper_bound(e.begin(), e.end(), relative_offset,
                       [](uint32_t v, const OffsetIndexEntry& x) { return v < x.relative_offset; });
  if (it == e.begin()) return std::nullopt;
  return *std::prev(it);
}

std::optional<TimeIndexEntry> LookupTimestampBefore(const TimeIndex& index, int64_t timestamp) {
  const auto& e = index.entries();
  auto it = std::lower_bound(e.begin(), e.end(), timestamp,
                             [](const TimeIndexEntry& x, int64_t v) { return x.timestamp < v; });
  if (it == e.begin()) return std::nullopt;
  return *std::prev(it);
}

}  // namespace rill::storage
