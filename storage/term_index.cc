#include "storage/term_index.h"

#include <algorithm>

#include "fmt/format.h"
#include "format/big_endian.h"
#include "format/crc32c.h"

namespace rill::storage {
namespace {

constexpr uint32_t kMagic = 0x524C4545;  // "RLEE"
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 12;  // magic, version, reserved, count
constexpr size_t kEntryBytes = 12;   // epoch i32, start offset i64
constexpr size_t kCrcBytes = 4;

}  // namespace

bool TermIndex::Observe(int32_t epoch, int64_t base_offset) {
  if (!entries_.empty() && epoch <= entries_.back().epoch) return false;
  entries_.push_back(Entry{epoch, base_offset});
  return true;
}

std::optional<int32_t> TermIndex::EpochAt(int64_t offset) const {
  auto after = std::upper_bound(entries_.begin(), entries_.end(), offset,
                                [](int64_t o, const Entry& e) { return o < e.start_offset; });
  if (after == entries_.begin()) return std::nullopt;
  return std::prev(after)->epoch;
}

std::optional<int32_t> TermIndex::last_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

bool TermIndex::TruncateFrom(int64_t offset) {
  const size_t before = entries_.size();
  while (!entries_.empty() && entries_.back().start_offset >= offset) entries_.pop_back();
  return entries_.size() != before;
}

bool TermIndex::TruncateBefore(int64_t start) {
  // The last entry starting at or before `start` covers it; everything earlier goes.
  size_t first_kept = 0;
  while (first_kept + 1 < entries_.size() && entries_[first_kept + 1].start_offset <= start) {
    ++first_kept;
  }
  bool changed = first_kept > 0;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(first_kept));
  if (!entries_.empty() && entries_.front().start_offset < start) {
    entries_.front().start_offset = start;
    changed = true;
  }
  return changed;
}

std::string TermIndex::Encode() const {
  std::string out(kHeaderBytes + entries_.size() * kEntryBytes + kCrcBytes, '\0');
  char* p = out.data();
  format::StoreU32(p, kMagic);
  format::StoreU16(p + 4, kVersion);
  format::StoreU32(p + 8, static_cast<uint32_t>(entries_.size()));
  p += kHeaderBytes;
  for (const Entry& e : entries_) {
    format::StoreI32(p, e.epoch);
    format::StoreI64(p + 4, e.start_offset);
    p += kEntryBytes;
  }
  const size_t body = out.size() - kCrcBytes;
  format::StoreU32(p, format::Crc32c(std::string_view(out.data(), body)));
  return out;
}

absl::StatusOr<TermIndex> TermIndex::Decode(std::string_view bytes, const std::string& path) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{} is corrupt: {}", path, why));
  };
  if (bytes.size() < kHeaderBytes + kCrcBytes) return corrupt("too short");
  if (format::LoadU32(bytes.data()) != kMagic) return corrupt("bad magic");
  if (format::LoadU16(bytes.data() + 4) != kVersion) {
    return corrupt(fmt::format("unknown version {}", format::LoadU16(bytes.data() + 4)));
  }
  const uint32_t count = format::LoadU32(bytes.data() + 8);
  if (count > kLeaderEpochsMax) return corrupt(fmt::format("{} entries", count));
  if (bytes.size() != kHeaderBytes + count * kEntryBytes + kCrcBytes) {
    return corrupt("length does not match its entry count");
  }
  const size_t body = bytes.size() - kCrcBytes;
  if (format::LoadU32(bytes.data() + body) != format::Crc32c(bytes.substr(0, body))) {
    return corrupt("checksum mismatch");
  }
  TermIndex index;
  index.entries_.reserve(count);
  const char* p = bytes.data() + kHeaderBytes;
  for (uint32_t i = 0; i < count; ++i, p += kEntryBytes) {
    const Entry e{format::LoadI32(p), format::LoadI64(p + 4)};
    if (!index.entries_.empty() && (e.epoch <= index.entries_.back().epoch ||
                                    e.start_offset < index.entries_.back().start_offset)) {
      return corrupt(fmt::format("entry {} does not follow the one before it", i));
    }
    index.entries_.push_back(e);
  }
  return index;
}

}  // namespace rill::storage
