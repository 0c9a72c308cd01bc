// Strong types for the ids and positions every module speaks about: Offset, Term, NodeId,
// PartitionId and TopicId. Distinct types stop a term being passed where an offset is meant, or a
// node id where a partition id is, at every API boundary; the compiler checks what a comment
// could only ask for.
//
// StrongInt is a thin wrapper over an integer: ordered, hashable (Abseil and std), printable
// (fmt and ostream), with arithmetic only where it means something (an offset plus a count).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "fmt/format.h"

namespace rill {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep value) : value_(value) {}

  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(Rep delta) const { return StrongInt(value_ + delta); }
  constexpr StrongInt operator-(Rep delta) const { return StrongInt(value_ - delta); }
  constexpr Rep operator-(StrongInt other) const { return value_ - other.value_; }
  constexpr StrongInt& operator+=(Rep delta) {
    value_ += delta;
    return *this;
  }
  constexpr StrongInt& operator++() {
    ++value_;
    return *this;
  }

  template <typename H>
  friend H AbslHashValue(H h, StrongInt v) {
    return H::combine(std::move(h), v.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongInt v) { return os << v.value_; }

 private:
  Rep value_{};
};

// The position of a record in a partition (Kafka's offset). A Raft entry's index is the last
// offset its batch covers, so Raft indexes are offsets too.
using Offset = StrongInt<struct OffsetTag, int64_t>;
// A Raft term; for a data partition it is the partition leader epoch stamped on every batch.
using Term = StrongInt<struct TermTag, int64_t>;
// A broker's node id (Kafka's broker.id / node.id). 0 means "no node".
using NodeId = StrongInt<struct NodeIdTag, int32_t>;
// A partition's number within its topic.
using PartitionId = StrongInt<struct PartitionIdTag, int32_t>;

inline constexpr NodeId kNoNode{0};

// A topic's identity (as Kafka's topic ids, KIP-516): 128 random bits fixed when the topic is
// created. A topic deleted and recreated under the same name gets another id, so nothing keyed
// by the id (partition directories, replicas on a broker that was down) can mistake one for the
// other. The all-zero id means "none".
class TopicId {
 public:
  constexpr TopicId() = default;
  constexpr TopicId(uint64_t high, uint64_t low) : high_(high), low_(low) {}

  // A fresh id from the process's random source; never the zero id.
  static TopicId Random();
  // Parses the 32-hex-digit form ToString writes; nullopt for anything else.
  static std::optional<TopicId> Parse(std::string_view text);
  // The 16-byte form records store (high then low, big-endian); nullopt unless 16 bytes.
  static std::optional<TopicId> FromBytes(std::string_view bytes);
  std::string ToBytes() const;

  constexpr bool is_zero() const { return high_ == 0 && low_ == 0; }
  constexpr uint64_t high() const { return high_; }
  constexpr uint64_t low() const { return low_; }
  // 32 lowercase hex digits.
  std::string ToString() const;

  constexpr auto operator<=>(const TopicId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicId& id) {
    return H::combine(std::move(h), id.high_, id.low_);
  }
  friend std::ostream& operator<<(std::ostream& os, const TopicId& id) {
    return os << id.ToString();
  }

 private:
  uint64_t high_ = 0;
  uint64_t low_ = 0;
};

}  // namespace rill

template <typename Tag, typename Rep>
struct std::hash<rill::StrongInt<Tag, Rep>> {
  size_t operator()(rill::StrongInt<Tag, Rep> v) const { return std::hash<Rep>()(v.value()); }
};

template <typename Tag, typename Rep>
struct fmt::formatter<rill::StrongInt<Tag, Rep>> : fmt::formatter<Rep> {
  template <typename FormatContext>
  auto format(rill::StrongInt<Tag, Rep> v, FormatContext& ctx) const {
    return fmt::formatter<Rep>::format(v.value(), ctx);
  }
};

template <>
struct fmt::formatter<rill::TopicId> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const rill::TopicId& id, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(id.ToString(), ctx);
  }
};
