// Strong integer types shared by every module that speaks about positions in a log.
//
// An Offset is the position of a record in a partition (Kafka's offset). Keeping it a distinct
// type stops it being mixed up with byte positions, counts or epochs at API boundaries.
#pragma once

#include <compare>
#include <cstdint>
#include <ostream>

namespace rill {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep value) : value_(value) {}

  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(Rep delta) const { return StrongInt(value_ + delta); }
  constexpr StrongInt operator-(Rep delta) const { return StrongInt(value_ - delta); }
  constexpr Rep operator-(StrongInt other) const { return value_ - other.value_; }

  friend std::ostream& operator<<(std::ostream& os, StrongInt v) { return os << v.value_; }

 private:
  Rep value_{};
};

using Offset = StrongInt<struct OffsetTag, int64_t>;

}  // namespace rill
