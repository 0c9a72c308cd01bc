// Kafka's variable-length integers: zigzag-encoded, then base-128 little-endian groups with a
// continuation bit (protobuf's sint32/sint64 encoding). A varint holds an int32 in at most
// 5 bytes, a varlong an int64 in at most 10.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rill::format {

inline constexpr size_t kMaxVarintBytes = 5;
inline constexpr size_t kMaxVarlongBytes = 10;

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Bytes needed to encode `v` as a varint/varlong.
size_t VarlongSize(int64_t v);

void AppendVarint(std::string* out, int32_t v);
void AppendVarlong(std::string* out, int64_t v);

// A forward-only reader over untrusted bytes. Every read checks bounds; after a failed read
// ok() is false and all later reads fail too, so callers may check once after a sequence.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool ReadVarint(int32_t* v);
  bool ReadVarlong(int64_t* v);
  bool ReadI8(int8_t* v);
  // Returns a view of the next `n` bytes (no copy).
  bool ReadBytes(size_t n, std::string_view* out);
  // A varint length followed by that many bytes; length -1 means null (nullopt).
  bool ReadNullableBytes(std::optional<std::string_view>* out);
  // The same where null is not allowed.
  bool ReadLengthPrefixedBytes(std::string_view* out);

  bool ok() const { return ok_; }
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  // Why the first failed read failed (for error messages).
  const char* error() const { return error_; }

 private:
  bool Fail(const char* why) {
    ok_ = false;
    if (error_ == nullptr) error_ = why;
    return false;
  }
  bool ReadRawVarint(size_t max_bytes, uint64_t* v);

  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
  const char* error_ = nullptr;
};

}  // namespace rill::format
