#include "kafka/protocol/wire.h"

#include <cstring>
#include <limits>

#include "base/check.h"
#include "fmt/format.h"
#include "format/big_endian.h"
#include "format/varint.h"

namespace rill::kafka {

void WireReader::Fail(const char* why) {
  if (error_ != nullptr) return;
  error_ = why;
  error_position_ = position_;
}

absl::Status WireReader::status() const {
  if (error_ == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format("{} at byte {}", error_, error_position_));
}

bool WireReader::Need(size_t n) {
  if (error_ != nullptr) return false;
  if (remaining() < n) {
    Fail("truncated");
    return false;
  }
  return true;
}

std::string_view WireReader::Raw(size_t n) {
  if (!Need(n)) return {};
  std::string_view out = data_.substr(position_, n);
  position_ += n;
  return out;
}

int8_t WireReader::Int8() {
  if (!Need(1)) return 0;
  return static_cast<int8_t>(data_[position_++]);
}

int16_t WireReader::Int16() {
  if (!Need(2)) return 0;
  const int16_t v = format::LoadI16(data_.data() + position_);
  position_ += 2;
  return v;
}

int32_t WireReader::Int32() {
  if (!Need(4)) return 0;
  const int32_t v = format::LoadI32(data_.data() + position_);
  position_ += 4;
  return v;
}

int64_t WireReader::Int64() {
  if (!Need(8)) return 0;
  const int64_t v = format::LoadI64(data_.data() + position_);
  position_ += 8;
  return v;
}

uint16_t WireReader::Uint16() { return static_cast<uint16_t>(Int16()); }
uint32_t WireReader::Uint32() { return static_cast<uint32_t>(Int32()); }

bool WireReader::Bool() {
  const int8_t v = Int8();
  if (v != 0 && v != 1) Fail("boolean not 0 or 1");
  return v == 1;
}

double WireReader::Float64() {
  const uint64_t bits = static_cast<uint64_t>(Int64());
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

uint64_t WireReader::UnsignedVarintBits(size_t bytes_max) {
  uint64_t result = 0;
  for (size_t i = 0; i < bytes_max; ++i) {
    if (!Need(1)) return 0;
    const auto byte = static_cast<uint8_t>(data_[position_++]);
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return result;
  }
  Fail("varint too long");
  return 0;
}

uint32_t WireReader::UnsignedVarint() {
  const uint64_t v = UnsignedVarintBits(format::kMaxVarintBytes);
  if (v > std::numeric_limits<uint32_t>::max()) {
    Fail("unsigned varint overflows 32 bits");
    return 0;
  }
  return static_cast<uint32_t>(v);
}

int32_t WireReader::Varint() {
  const uint32_t u = UnsignedVarint();
  return static_cast<int32_t>(u >> 1) ^ -static_cast<int32_t>(u & 1);
}

int64_t WireReader::Varlong() {
  const size_t start = position_;
  const uint64_t u = UnsignedVarintBits(format::kMaxVarlongBytes);
  // The tenth byte may only carry the top bit of 64.
  if (ok() && position_ - start == format::kMaxVarlongBytes &&
      (static_cast<uint8_t>(data_[position_ - 1]) & 0x7e) != 0) {
    Fail("varlong overflows 64 bits");
    return 0;
  }
  return format::ZigZagDecode(u);
}

Uuid WireReader::ReadUuid() {
  Uuid out{};
  const std::string_view bytes = Raw(out.size());
  if (ok()) std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

int64_t WireReader::Length(bool compact, bool int32_length) {
  if (compact) return static_cast<int64_t>(UnsignedVarint()) - 1;
  const int64_t length = int32_length ? Int32() : Int16();
  if (length < -1) Fail("negative length");
  return length;
}

std::optional<std::string_view> WireReader::NullableField(bool compact, bool int32_length,
                                                          const char* too_long) {
  const int64_t length = Length(compact, int32_length);
  if (!ok() || length < 0) return std::nullopt;
  if (static_cast<uint64_t>(length) > remaining()) {
    Fail(too_long);
    return std::nullopt;
  }
  return Raw(static_cast<size_t>(length));
}

std::optional<std::string_view> WireReader::NullableString(bool compact) {
  return NullableField(compact, /*int32_length=*/false,
                       "string longer than the bytes that remain");
}

std::string_view WireReader::String(bool compact) {
  const std::optional<std::string_view> v = NullableString(compact);
  if (ok() && !v) Fail("null string where none is allowed");
  return v.value_or(std::string_view());
}

std::optional<std::string_view> WireReader::NullableBytes(bool compact) {
  return NullableField(compact, /*int32_length=*/true, "bytes longer than the bytes that remain");
}

std::string_view WireReader::Bytes(bool compact) {
  const std::optional<std::string_view> v = NullableBytes(compact);
  if (ok() && !v) Fail("null bytes where none are allowed");
  return v.value_or(std::string_view());
}

int32_t WireReader::ArrayLength(bool compact, size_t element_bytes_min, bool nullable) {
  const int64_t count = compact ? static_cast<int64_t>(UnsignedVarint()) - 1 : Int32();
  if (!ok()) return 0;
  if (count < 0) {
    if (count == -1 && nullable) return -1;
    Fail(count == -1 ? "null array where none is allowed" : "negative array length");
    return 0;
  }
  // Every element takes at least one byte on the wire, whatever the caller says.
  const uint64_t bytes_min = static_cast<uint64_t>(count) * std::max<size_t>(element_bytes_min, 1);
  if (bytes_min > remaining()) {
    Fail("array longer than the bytes that remain");
    return 0;
  }
  if (static_cast<uint64_t>(count) > entries_left_) {
    Fail("more array entries than a request may hold");
    return 0;
  }
  entries_left_ -= static_cast<size_t>(count);
  return static_cast<int32_t>(count);
}

void WireReader::SkipTaggedFields() {
  const uint32_t count = UnsignedVarint();
  // Each field takes at least two bytes (tag and size).
  if (ok() && static_cast<uint64_t>(count) * 2 > remaining()) {
    Fail("more tagged fields than the bytes that remain");
    return;
  }
  int64_t previous_tag = -1;
  for (uint32_t i = 0; i < count && ok(); ++i) {
    const uint32_t tag = UnsignedVarint();
    const uint32_t size = UnsignedVarint();
    if (!ok()) return;
    if (static_cast<int64_t>(tag) <= previous_tag) {
      Fail("tagged fields out of order");
      return;
    }
    previous_tag = tag;
    Raw(size);
  }
}

void WireWriter::Int8(int8_t v) { out_->push_back(static_cast<char>(v)); }
void WireWriter::Int16(int16_t v) { format::AppendU16(out_, static_cast<uint16_t>(v)); }
void WireWriter::Int32(int32_t v) { format::AppendU32(out_, static_cast<uint32_t>(v)); }
void WireWriter::Int64(int64_t v) { format::AppendU64(out_, static_cast<uint64_t>(v)); }
void WireWriter::Uint16(uint16_t v) { format::AppendU16(out_, v); }
void WireWriter::Uint32(uint32_t v) { format::AppendU32(out_, v); }

void WireWriter::Float64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  format::AppendU64(out_, bits);
}

void WireWriter::Varint(int32_t v) { format::AppendVarint(out_, v); }
void WireWriter::Varlong(int64_t v) { format::AppendVarlong(out_, v); }

void WireWriter::UnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void WireWriter::WriteUuid(const Uuid& v) {
  out_->append(reinterpret_cast<const char*>(v.data()), v.size());
}

void WireWriter::LengthPrefix(int64_t length, bool compact, bool int32_length) {
  if (compact) {
    UnsignedVarint(length < 0 ? 0 : static_cast<uint32_t>(length) + 1);
  } else if (int32_length) {
    Int32(static_cast<int32_t>(length));
  } else {
    Int16(static_cast<int16_t>(length));
  }
}

void WireWriter::String(std::string_view v, bool compact) {
  RILL_CHECK(v.size() <= static_cast<size_t>(std::numeric_limits<int16_t>::max()) || compact);
  LengthPrefix(static_cast<int64_t>(v.size()), compact, /*int32_length=*/false);
  out_->append(v);
}

void WireWriter::NullableString(const std::optional<std::string_view>& v, bool compact) {
  if (v) return String(*v, compact);
  LengthPrefix(-1, compact, /*int32_length=*/false);
}

void WireWriter::Bytes(std::string_view v, bool compact) {
  RILL_CHECK(v.size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  LengthPrefix(static_cast<int64_t>(v.size()), compact, /*int32_length=*/true);
  out_->append(v);
}

void WireWriter::NullableBytes(const std::optional<std::string_view>& v, bool compact) {
  if (v) return Bytes(*v, compact);
  LengthPrefix(-1, compact, /*int32_length=*/true);
}

void WireWriter::ArrayLength(int32_t count, bool compact) {
  LengthPrefix(count < 0 ? -1 : count, compact, /*int32_length=*/true);
}

}  // namespace rill::kafka
