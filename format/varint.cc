#include "format/varint.h"

namespace rill::format {

size_t VarlongSize(int64_t v) {
  uint64_t u = ZigZagEncode(v);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

namespace {
void AppendUnsigned(std::string* out, uint64_t u) {
  char buf[kMaxVarlongBytes];
  size_t n = 0;
  while (u >= 0x80) {
    buf[n++] = static_cast<char>((u & 0x7f) | 0x80);
    u >>= 7;
  }
  buf[n++] = static_cast<char>(u);
  out->append(buf, n);
}
}  // namespace

void AppendVarint(std::string* out, int32_t v) {
  // Zigzag in 32 bits so that negative int32 values take at most five bytes.
  uint32_t u = (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  AppendUnsigned(out, u);
}

void AppendVarlong(std::string* out, int64_t v) { AppendUnsigned(out, ZigZagEncode(v)); }

bool ByteReader::ReadRawVarint(size_t max_bytes, uint64_t* v) {
  if (!ok_) return false;
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes; ++i) {
    if (pos_ >= data_.size()) return Fail("truncated varint");
    auto byte = static_cast<uint8_t>(data_[pos_++]);
    if (i == 9 && (byte & 0x7e) != 0) return Fail("varint overflows int64");
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return Fail("varint too long");
}

bool ByteReader::ReadVarint(int32_t* v) {
  uint64_t raw;
  if (!ReadRawVarint(kMaxVarintBytes, &raw)) return false;
  if (raw > 0xffffffffull) return Fail("varint overflows int32");
  auto u = static_cast<uint32_t>(raw);
  *v = static_cast<int32_t>(u >> 1) ^ -static_cast<int32_t>(u & 1);
  return true;
}

bool ByteReader::ReadVarlong(int64_t* v) {
  uint64_t raw;
  if (!ReadRawVarint(kMaxVarlongBytes, &raw)) return false;
  // The tenth byte may carry only the top bit of a 64-bit value.
  *v = ZigZagDecode(raw);
  return true;
}

bool ByteReader::ReadI8(int8_t* v) {
  if (!ok_) return false;
  if (pos_ >= data_.size()) return Fail("truncated record");
  *v = static_cast<int8_t>(data_[pos_++]);
  return true;
}

bool ByteReader::ReadBytes(size_t n, std::string_view* out) {
  if (!ok_) return false;
  if (n > remaining()) return Fail("length exceeds the remaining bytes");
  *out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool ByteReader::ReadNullableBytes(std::optional<std::string_view>* out) {
  int32_t length;
  if (!ReadVarint(&length)) return false;
  if (length < -1) return Fail("negative length");
  if (length == -1) {
    out->reset();
    return true;
  }
  std::string_view bytes;
  if (!ReadBytes(static_cast<size_t>(length), &bytes)) return false;
  *out = bytes;
  return true;
}

bool ByteReader::ReadLengthPrefixedBytes(std::string_view* out) {
  int32_t length;
  if (!ReadVarint(&length)) return false;
  if (length < 0) return Fail("negative length");
  return ReadBytes(static_cast<size_t>(length), out);
}

}  // namespace rill::format
