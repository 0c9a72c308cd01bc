#include "storage/recovery_points.h"

#include "base/fmt_absl.h"
#include "format/big_endian.h"
#include "format/crc32c.h"

namespace rill::storage {
namespace {

constexpr uint32_t kMagic = 0x524C5250;  // "RLRP"
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 12;  // magic, version, reserved u16, count u32
constexpr size_t kMaxNameBytes = 255;

}  // namespace

std::string EncodeRecoveryPoints(const RecoveryPoints& points) {
  std::string out;
  format::AppendU32(&out, kMagic);
  format::AppendU16(&out, kVersion);
  format::AppendU16(&out, 0);
  format::AppendU32(&out, static_cast<uint32_t>(points.size()));
  for (const auto& [name, offset] : points) {
    format::AppendU16(&out, static_cast<uint16_t>(name.size()));
    out += name;
    format::AppendU64(&out, static_cast<uint64_t>(offset));
  }
  format::AppendU32(&out, format::Crc32c(out));
  return out;
}

absl::StatusOr<RecoveryPoints> DecodeRecoveryPoints(std::string_view bytes,
                                                    const std::string& path) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{} is corrupt: {}", path, why));
  };
  if (bytes.size() < kHeaderBytes + 4 || bytes.size() > kMaxRecoveryPointsFileBytes) {
    return corrupt(fmt::format("{} bytes", bytes.size()));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  if (format::LoadU32(bytes.data() + body.size()) != format::Crc32c(body)) {
    return corrupt("CRC mismatch");
  }
  if (format::LoadU32(body.data()) != kMagic) return corrupt("bad magic");
  if (format::LoadU16(body.data() + 4) != kVersion) {
    return corrupt(fmt::format("unknown version {}", format::LoadU16(body.data() + 4)));
  }
  const uint32_t count = format::LoadU32(body.data() + 8);
  if (count > kMaxRecoveryPoints) return corrupt(fmt::format("{} entries", count));
  RecoveryPoints points;
  size_t pos = kHeaderBytes;
  for (uint32_t i = 0; i < count; ++i) {
    if (body.size() - pos < 2) return corrupt("truncated entry");
    const size_t name_bytes = format::LoadU16(body.data() + pos);
    pos += 2;
    if (name_bytes == 0 || name_bytes > kMaxNameBytes || body.size() - pos < name_bytes + 8) {
      return corrupt("bad entry");
    }
    std::string name(body.substr(pos, name_bytes));
    pos += name_bytes;
    const int64_t offset = format::LoadI64(body.data() + pos);
    pos += 8;
    if (offset < 0) return corrupt(fmt::format("negative offset for {}", name));
    points[std::move(name)] = offset;
  }
  if (pos != body.size()) return corrupt("trailing bytes");
  return points;
}

}  // namespace rill::storage
