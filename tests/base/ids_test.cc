#include "base/ids.h"

#include <set>

#include "absl/container/flat_hash_set.h"
#include "catch2/catch.hpp"

namespace rill {
namespace {

TEST_CASE("ids: strong ints order, hash, print and count", "[base]") {
  Offset o(41);
  ++o;
  o += 8;
  CHECK(o == Offset(50));
  CHECK(o - Offset(20) == 30);
  CHECK(Term(2) < Term(3));
  CHECK(fmt::format("{} {}", NodeId(7), PartitionId(3)) == "7 3");
  absl::flat_hash_set<NodeId> nodes{NodeId(1), NodeId(2), NodeId(1)};
  CHECK(nodes.size() == 2);
  CHECK(kNoNode == NodeId(0));
}

TEST_CASE("ids: topic ids are random, never zero, and round-trip their text", "[base]") {
  std::set<TopicId> seen;
  for (int i = 0; i < 100; ++i) {
    const TopicId id = TopicId::Random();
    CHECK_FALSE(id.is_zero());
    CHECK(TopicId::Parse(id.ToString()) == id);
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
  const TopicId known(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  CHECK(known.ToString() == "0123456789abcdeffedcba9876543210");
  CHECK(fmt::format("{}", known) == known.ToString());
  CHECK_FALSE(TopicId::Parse("0123456789abcdeffedcba987654321").has_value());
  CHECK_FALSE(TopicId::Parse("0123456789ABCDEFfedcba9876543210").has_value());
  CHECK_FALSE(TopicId::Parse("0123456789abcdeffedcba987654321g").has_value());
  CHECK(TopicId().is_zero());
  CHECK(TopicId::FromBytes(known.ToBytes()) == known);
  CHECK(known.ToBytes().substr(0, 2) == "\x01\x23");
  CHECK_FALSE(TopicId::FromBytes("short").has_value());
}

}  // namespace
}  // namespace rill
