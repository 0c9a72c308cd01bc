// The primitive types of Kafka's binary protocol (docs/kafka.md, "Wire types"): big-endian
// fixed-width integers, zigzag varints, unsigned varints, strings and bytes with int16/int32
// lengths or, in flexible versions, "compact" forms whose unsigned-varint length is N + 1
// (0: null), arrays likewise, UUIDs, and tagged fields.
//
// WireReader reads untrusted bytes. Every length and count is checked against the bytes that
// remain before anything is allocated, and arrays against an entry limit as well. The first
// failure sticks: later reads return zero values, so a decoder reads a whole structure and
// checks ok() once. WireWriter appends to a string. Neither is thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace rill::kafka {

using Uuid = std::array<uint8_t, 16>;

class WireReader {
 public:
  // `entries_max`: the most elements all the arrays read through this reader may hold together
  // (a request's entries, counted through every level).
  explicit WireReader(std::string_view data, size_t entries_max = 100000)
      : data_(data), entries_left_(entries_max) {}

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  uint16_t Uint16();
  uint32_t Uint32();
  bool Bool();
  double Float64();
  int32_t Varint();
  int64_t Varlong();
  uint32_t UnsignedVarint();
  Uuid ReadUuid();

  // STRING / NULLABLE_STRING (int16 length, -1 null), COMPACT_[NULLABLE_]STRING; a null where
  // none is allowed fails. Views into the input, valid while it is.
  std::string_view String(bool compact);
  std::optional<std::string_view> NullableString(bool compact);
  // BYTES / NULLABLE_BYTES (int32 length), COMPACT_[NULLABLE_]BYTES.
  std::string_view Bytes(bool compact);
  std::optional<std::string_view> NullableBytes(bool compact);

  // The element count of an ARRAY (int32, -1 null) or COMPACT_ARRAY, null as -1 when
  // `nullable`. Fails when the elements, at `element_bytes_min` each, cannot fit in what
  // remains, or would pass the entry limit.
  int32_t ArrayLength(bool compact, size_t element_bytes_min, bool nullable = false);

  // Skips a tagged-field section (flexible versions): a count, then tag, size and bytes each.
  // Tags must ascend; unknown ones are skipped, as Kafka does.
  void SkipTaggedFields();

  // The next `n` bytes, unread (no copy).
  std::string_view Raw(size_t n);

  bool ok() const { return error_ == nullptr; }
  // InvalidArgument naming the first failure and where it happened; OK while ok().
  absl::Status status() const;
  size_t remaining() const { return data_.size() - position_; }
  size_t position() const { return position_; }
  // Makes the reader fail with `why` (a decoder's own check, such as a bad enum value).
  void Fail(const char* why);

 private:
  bool Need(size_t n);
  uint64_t UnsignedVarintBits(size_t bytes_max);
  // The length of a string or bytes field: -1 for null.
  int64_t Length(bool compact, bool int32_length);
  // A string or bytes field, checked against what remains.
  std::optional<std::string_view> NullableField(bool compact, bool int32_length,
                                                const char* too_long);

  std::string_view data_;
  size_t position_ = 0;
  size_t entries_left_;
  const char* error_ = nullptr;
  size_t error_position_ = 0;
};

class WireWriter {
 public:
  explicit WireWriter(std::string* out) : out_(out) {}

  void Int8(int8_t v);
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Uint16(uint16_t v);
  void Uint32(uint32_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void Float64(double v);
  void Varint(int32_t v);
  void Varlong(int64_t v);
  void UnsignedVarint(uint32_t v);
  void WriteUuid(const Uuid& v);
  void String(std::string_view v, bool compact);
  void NullableString(const std::optional<std::string_view>& v, bool compact);
  void Bytes(std::string_view v, bool compact);
  void NullableBytes(const std::optional<std::string_view>& v, bool compact);
  // An array's count (-1: null, with `compact` written as 0).
  void ArrayLength(int32_t count, bool compact);
  // An empty tagged-field section.
  void NoTaggedFields() { UnsignedVarint(0); }
  void Raw(std::string_view bytes) { out_->append(bytes); }

  std::string* out() { return out_; }

 private:
  // A string's, bytes' or array's length (-1: null) in its encoding.
  void LengthPrefix(int64_t length, bool compact, bool int32_length);

  std::string* out_;
};

}  // namespace rill::kafka
