#include "groups/assignor.h"

#include "catch2/catch.hpp"

namespace rill::groups {
namespace {

std::vector<AssignorMember> Members(std::initializer_list<const char*> ids,
                                    std::set<std::string> topics) {
  std::vector<AssignorMember> out;
  for (const char* id : ids) out.push_back({id, topics, {}});
  return out;
}

size_t Total(const Assignment& a) {
  size_t n = 0;
  for (const auto& [id, set] : a) n += set.size();
  return n;
}

TEST_CASE("assignor: uniform balances, and a join moves only what it must", "[groups]") {
  const TopicCatalog topics = {{"orders", 6}};
  auto three = Members({"a", "b", "c"}, {"orders"});
  auto first = ComputeAssignment("uniform", three, topics);
  REQUIRE(first.ok());
  for (const auto& [id, set] : *first) CHECK(set.size() == 2);
  CHECK(Total(*first) == 6);

  auto four = three;
  for (auto& m : four) m.previous = (*first)[m.member_id];
  four.push_back({"d", {"orders"}, {}});
  auto second = ComputeAssignment("uniform", four, topics);
  REQUIRE(second.ok());
  CHECK(Total(*second) == 6);
  size_t moved = 0;
  for (const auto& m : three) {
    const auto& now = (*second)[m.member_id];
    CHECK(now.size() >= 1);
    CHECK(now.size() <= 2);
    for (const auto& tp : (*first)[m.member_id]) moved += now.count(tp) ? 0 : 1;
  }
  // d gets one or two partitions; exactly those moved.
  CHECK(moved == (*second)["d"].size());
  CHECK(moved >= 1);
  CHECK(moved <= 2);
}

TEST_CASE("assignor: partitions only go to members subscribed to their topic", "[groups]") {
  const TopicCatalog topics = {{"a", 2}, {"b", 4}};
  std::vector<AssignorMember> members = {{"m1", {"a"}, {}}, {"m2", {"a", "b"}, {}}};
  auto out = ComputeAssignment("uniform", members, topics);
  REQUIRE(out.ok());
  for (const auto& tp : (*out)["m1"]) CHECK(tp.topic == "a");
  CHECK(Total(*out) == 6);
}

TEST_CASE("assignor: range gives contiguous ranges per topic", "[groups]") {
  const TopicCatalog topics = {{"t", 5}};
  auto out = ComputeAssignment("range", Members({"x", "y"}, {"t"}), topics);
  REQUIRE(out.ok());
  CHECK((*out)["x"] == PartitionSet{{"t", 0}, {"t", 1}, {"t", 2}});
  CHECK((*out)["y"] == PartitionSet{{"t", 3}, {"t", 4}});
  CHECK_FALSE(ComputeAssignment("roundrobin", {}, topics).ok());
}

}  // namespace
}  // namespace rill::groups
