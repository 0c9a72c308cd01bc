// Kafka's classic group protocol through the GroupStore: joins held until every member is in,
// the leader's assignment passed through, rebalances on leave and on session expiry,
// generation fencing, the commit rules, persistence, and the line between classic and native
// groups.
#include "groups/classic_group.h"

#include "api/error.h"
#include "catch2/catch.hpp"
#include "groups/consumer_protocol.h"
#include "groups/group_store.h"

namespace rill::groups {
namespace {

v1::ErrorCode CodeOf(const absl::Status& s) { return api::ErrorCodeOf(s); }

constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 20000;

struct Harness {
  explicit Harness(int32_t initial_delay_ms = 0)
      : limits([&] {
          GroupLimits l;
          l.classic.initial_rebalance_delay_ms = initial_delay_ms;
          return l;
        }()),
        store(limits) {}

  GroupLimits limits;
  GroupStore store;
  std::vector<GroupLogRecord> log;
  int64_t now = 1000;
  int next_id = 0;
  // Answers released by later calls, by member id.
  std::map<std::string, ClassicJoinResult> joined;
  std::map<std::string, ClassicSyncResult> synced;

  void Keep(std::vector<GroupLogRecord>& out, ClassicCompletions& done) {
    log.insert(log.end(), out.begin(), out.end());
    for (auto& [id, r] : done.joins) joined[id] = r;
    for (auto& [id, r] : done.syncs) synced[id] = r;
  }

  std::optional<ClassicJoinResult> Join(const std::string& member_id,
                                        const std::vector<std::string>& protocols = {"range"},
                                        bool require_known = true) {
    ClassicJoinRequest request;
    request.member_id = member_id;
    request.client_id = "app";
    request.session_timeout_ms = kSession;
    request.rebalance_timeout_ms = kRebalance;
    request.protocol_type = "consumer";
    for (const auto& p : protocols) {
      request.protocols.push_back({p, EncodeConsumerSubscription({"orders"})});
    }
    request.require_known_member_id = require_known;
    std::vector<GroupLogRecord> out;
    ClassicCompletions done;
    auto r = store.JoinGroup(
        "g", request, now, [this] { return "app-" + std::to_string(next_id++); }, &done, &out);
    Keep(out, done);
    return r;
  }

  // A new member: asked for an id, then joining with it (held).
  std::string NewMember() {
    auto first = Join("");
    REQUIRE(first.has_value());
    REQUIRE(CodeOf(first->status) == v1::MEMBER_ID_REQUIRED);
    CHECK_FALSE(Join(first->member_id).has_value());
    return first->member_id;
  }

  std::optional<ClassicSyncResult> Sync(const std::string& member_id, int32_t generation,
                                        std::vector<std::pair<std::string, std::string>> plan = {}) {
    ClassicSyncRequest request;
    request.member_id = member_id;
    request.generation = generation;
    request.assignments = std::move(plan);
    std::vector<GroupLogRecord> out;
    ClassicCompletions done;
    auto r = store.SyncGroup("g", request, now, &done, &out);
    Keep(out, done);
    return r;
  }

  absl::Status Leave(const std::string& member_id) {
    std::vector<GroupLogRecord> out;
    ClassicCompletions done;
    auto s = store.LeaveGroup("g", member_id, now, &done, &out);
    Keep(out, done);
    return s;
  }

  void Tick() {
    std::vector<GroupLogRecord> out;
    std::map<std::string, ClassicCompletions> released;
    store.ExpireSessions([] { return TopicCatalog{{"orders", 6}}; }, now, &released, &out);
    for (auto& [group, done] : released) Keep(out, done);
    if (released.empty()) log.insert(log.end(), out.begin(), out.end());
  }

  // Every member syncs; the leader hands out one partition of "orders" to each.
  void SyncAll(const std::vector<std::string>& members) {
    const ClassicJoinResult& any = joined.at(members[0]);
    std::vector<std::pair<std::string, std::string>> plan;
    int32_t p = 0;
    for (const auto& m : members) plan.emplace_back(m, EncodeConsumerAssignment({{"orders", p++}}));
    for (const auto& m : members) {
      if (m != any.leader) CHECK_FALSE(Sync(m, any.generation).has_value());
    }
    CHECK_FALSE(Sync(any.leader, any.generation, plan).has_value());
  }
};

TEST_CASE("classic group: joins are held until every member is in, then the leader's assignment "
          "reaches each member",
          "[unit]") {
  Harness h;
  const std::string a = h.NewMember();
  // Alone and without an initial delay, the first member's join completes at once.
  REQUIRE(h.joined.count(a) == 1);
  CHECK(h.joined[a].generation == 1);
  CHECK(h.joined[a].leader == a);
  CHECK(h.joined[a].protocol_name == "range");
  CHECK(h.joined[a].members.size() == 1);
  h.SyncAll({a});
  REQUIRE(h.synced.count(a) == 1);

  // A second member: the group rebalances; b's join waits for a to join again.
  h.joined.clear();
  h.synced.clear();
  const std::string b = h.NewMember();
  CHECK(h.joined.empty());
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", a, 1, h.now)) == v1::REBALANCE_IN_PROGRESS);
  CHECK_FALSE(h.Join(a).has_value());
  REQUIRE(h.joined.size() == 2);
  CHECK(h.joined[a].generation == 2);
  CHECK(h.joined[b].generation == 2);
  // The leader stays the leader and alone sees the members' metadata.
  CHECK(h.joined[a].leader == a);
  CHECK(h.joined[a].members.size() == 2);
  CHECK(h.joined[b].members.empty());

  // Followers wait for the leader's SyncGroup; it releases every one with its share.
  CHECK_FALSE(h.Sync(b, 2).has_value());
  CHECK(h.synced.empty());
  h.SyncAll({a, b});
  REQUIRE(h.synced.size() == 2);
  CHECK(*DecodeConsumerAssignment(h.synced[a].assignment) == PartitionSet{{"orders", 0}});
  CHECK(*DecodeConsumerAssignment(h.synced[b].assignment) == PartitionSet{{"orders", 1}});
  CHECK(h.store.ClassicHeartbeat("g", b, 2, h.now).ok());
  // A sync in a stable group answers at once with the member's share.
  auto again = h.Sync(b, 2);
  REQUIRE(again.has_value());
  CHECK(again->assignment == h.synced[b].assignment);

  auto described = h.store.Describe("g");
  REQUIRE(described.ok());
  CHECK(described->type == "classic");
  CHECK(described->state == "Stable");
  CHECK(described->protocol == "range");
  CHECK(described->members.size() == 2);
  for (const auto& m : described->members) {
    CHECK(m.subscribed_topics == std::vector<std::string>{"orders"});
    CHECK(m.assigned.size() == 1);
  }
}

TEST_CASE("classic group: fencing by generation and member, and the protocol must be shared",
          "[unit]") {
  Harness h;
  const std::string a = h.NewMember();
  h.SyncAll({a});
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", a, 0, h.now)) == v1::ILLEGAL_GENERATION);
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", "nobody", 1, h.now)) == v1::UNKNOWN_MEMBER_ID);
  CHECK(CodeOf(h.Sync(a, 7)->status) == v1::ILLEGAL_GENERATION);
  CHECK(CodeOf(h.Sync("nobody", 1)->status) == v1::UNKNOWN_MEMBER_ID);
  CHECK(CodeOf(h.Join("stranger")->status) == v1::UNKNOWN_MEMBER_ID);
  // A member offering no protocol the group speaks is refused; one sharing any is let in.
  CHECK(CodeOf(h.Join("", {"sticky"})->status) == v1::INCONSISTENT_GROUP_PROTOCOL);
  auto asked = h.Join("", {"sticky", "range"});
  REQUIRE(CodeOf(asked->status) == v1::MEMBER_ID_REQUIRED);
  CHECK_FALSE(h.Join(asked->member_id, {"sticky", "range"}).has_value());
  CHECK_FALSE(h.Join(a).has_value());
  REQUIRE(h.joined.count(asked->member_id) == 1);
  // "range" is the only protocol both support.
  CHECK(h.joined[asked->member_id].protocol_name == "range");
  // Session timeouts outside the broker's range are refused.
  ClassicJoinRequest bad;
  bad.session_timeout_ms = 10;
  bad.protocol_type = "consumer";
  bad.protocols = {{"range", ""}};
  std::vector<GroupLogRecord> out;
  ClassicCompletions done;
  auto refused = h.store.JoinGroup("g", bad, h.now, [] { return "x"; }, &done, &out);
  CHECK(CodeOf(refused->status) == v1::INVALID_SESSION_TIMEOUT);
}

TEST_CASE("classic group: a leave or an expired session rebalances the rest, and members that "
          "do not rejoin in time are dropped",
          "[unit]") {
  Harness h;
  const std::string a = h.NewMember();
  const std::string b = h.NewMember();
  CHECK_FALSE(h.Join(a).has_value());
  const std::string c = h.NewMember();
  CHECK_FALSE(h.Join(a).has_value());
  CHECK_FALSE(h.Join(b).has_value());
  REQUIRE(h.joined.at(c).generation == 3);
  h.SyncAll({a, b, c});
  REQUIRE(h.synced.size() == 3);

  // c leaves: a and b are told to rejoin; both do, and generation 4 has two members.
  h.joined.clear();
  REQUIRE(h.Leave(c).ok());
  CHECK(CodeOf(h.Leave(c)) == v1::UNKNOWN_MEMBER_ID);
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", a, 3, h.now)) == v1::REBALANCE_IN_PROGRESS);
  CHECK_FALSE(h.Join(a).has_value());
  CHECK_FALSE(h.Join(b).has_value());
  REQUIRE(h.joined.size() == 2);
  CHECK(h.joined[a].generation == 4);
  h.SyncAll({a, b});

  // b stops heartbeating: after its session it is removed, and a alone forms generation 5.
  h.joined.clear();
  h.now += kSession / 2;
  REQUIRE(h.store.ClassicHeartbeat("g", a, 4, h.now).ok());
  h.now += kSession / 2 + 1;
  h.Tick();
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", a, 4, h.now)) == v1::REBALANCE_IN_PROGRESS);
  CHECK_FALSE(h.Join(a).has_value());
  REQUIRE(h.joined.count(a) == 1);
  CHECK(h.joined[a].generation == 5);
  CHECK(h.joined[a].members.size() == 1);
  h.SyncAll({a});

  // A new member joins; a never rejoins: at the rebalance timeout the new one goes on alone.
  h.joined.clear();
  const std::string d = h.NewMember();
  h.now += kRebalance + 1;
  h.Tick();
  REQUIRE(h.joined.count(d) == 1);
  CHECK(h.joined[d].leader == d);
  CHECK(h.joined[d].members.size() == 1);
  CHECK(CodeOf(h.store.ClassicHeartbeat("g", a, 6, h.now)) == v1::UNKNOWN_MEMBER_ID);
}

TEST_CASE("classic group: commits need the current generation and member, and wait out the "
          "assignment",
          "[unit]") {
  Harness h;
  const TopicCatalog topics{{"orders", 6}};
  auto commit = [&](const std::string& member, int32_t generation) {
    std::vector<absl::Status> results;
    std::vector<GroupLogRecord> out;
    return h.store.CommitOffsets("g", member, generation, {{{"orders", 0}, 5, ""}}, topics, h.now,
                                 &results, &out);
  };
  // No members yet: a commit without a member is a manual-assignment consumer's.
  CHECK(commit("", -1).ok());
  const std::string a = h.NewMember();
  // Joined but not yet assigned.
  CHECK(CodeOf(commit(a, 1)) == v1::REBALANCE_IN_PROGRESS);
  h.SyncAll({a});
  CHECK(commit(a, 1).ok());
  CHECK(CodeOf(commit(a, 0)) == v1::ILLEGAL_GENERATION);
  CHECK(CodeOf(commit("other", 1)) == v1::UNKNOWN_MEMBER_ID);
  CHECK(CodeOf(commit("", -1)) == v1::UNKNOWN_MEMBER_ID);
  // While the group prepares a rebalance, members still commit what they processed.
  const std::string b = h.NewMember();
  CHECK(commit(a, 1).ok());
  (void)b;
}

TEST_CASE("classic group: a replayed store has the group's generation, members and assignment",
          "[unit]") {
  Harness h;
  const std::string a = h.NewMember();
  const std::string b = h.NewMember();
  CHECK_FALSE(h.Join(a).has_value());
  h.SyncAll({a, b});

  GroupStore replayed(h.limits);
  for (const auto& record : h.log) REQUIRE(replayed.Apply(record, h.now).ok());
  auto before = h.store.Describe("g");
  auto after = replayed.Describe("g");
  REQUIRE(after.ok());
  CHECK(after->state == "Stable");
  CHECK(after->group_epoch == before->group_epoch);
  REQUIRE(after->members.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(after->members[i].member_id == before->members[i].member_id);
    CHECK(after->members[i].assignment_bytes == before->members[i].assignment_bytes);
  }
  // The replayed group serves its members where they were.
  CHECK(replayed.ClassicHeartbeat("g", b, before->group_epoch, h.now).ok());

  // Both leave: the group is empty, and that too survives a replay; then it can be deleted.
  REQUIRE(h.Leave(a).ok());
  REQUIRE(h.Leave(b).ok());
  GroupStore emptied(h.limits);
  for (const auto& record : h.log) REQUIRE(emptied.Apply(record, h.now).ok());
  CHECK(emptied.Describe("g")->members.empty());
  std::vector<GroupLogRecord> out;
  CHECK(emptied.DeleteGroup("g", &out).ok());
}

TEST_CASE("classic group: a group is classic or native while it has members, never both",
          "[unit]") {
  Harness h;
  const std::string a = h.NewMember();
  HeartbeatRequest native;
  native.group_id = "g";
  native.subscribed_topics = {"orders"};
  std::vector<GroupLogRecord> out;
  auto refused = h.store.Heartbeat(native, {{"orders", 6}}, h.now, [] { return "n"; }, &out);
  CHECK(CodeOf(refused.status()) == v1::INCONSISTENT_GROUP_PROTOCOL);
  std::vector<GroupLogRecord> ignored;
  CHECK(CodeOf(h.store.DeleteGroup("g", &ignored)) == v1::GROUP_NOT_EMPTY);

  native.group_id = "n";
  REQUIRE(h.store.Heartbeat(native, {{"orders", 6}}, h.now, [] { return "n"; }, &out).ok());
  ClassicJoinRequest join;
  join.session_timeout_ms = kSession;
  join.protocol_type = "consumer";
  join.protocols = {{"range", ""}};
  ClassicCompletions done;
  auto classic = h.store.JoinGroup("n", join, h.now, [] { return "c"; }, &done, &out);
  REQUIRE(classic.has_value());
  CHECK(CodeOf(classic->status) == v1::INCONSISTENT_GROUP_PROTOCOL);

  // Once a's group is empty it may be taken by the native protocol.
  REQUIRE(h.Leave(a).ok());
  native.group_id = "g";
  CHECK(h.store.Heartbeat(native, {{"orders", 6}}, h.now, [] { return "n2"; }, &out).ok());
}

TEST_CASE("classic group: a new group waits the initial delay for more members", "[unit]") {
  Harness h(3000);
  const std::string a = h.NewMember();
  CHECK(h.joined.empty());
  h.now += 2000;
  h.Tick();
  const std::string b = h.NewMember();
  // b's arrival extends the wait by another delay from now.
  h.now += 2000;
  h.Tick();
  CHECK(h.joined.empty());
  h.now += 1001;
  h.Tick();
  REQUIRE(h.joined.size() == 2);
  CHECK(h.joined[a].generation == 1);
  CHECK(h.joined[a].members.size() == 2);
}

TEST_CASE("consumer protocol: assignments and subscriptions round-trip and truncations fail",
          "[unit]") {
  const PartitionSet partitions{{"a", 0}, {"a", 3}, {"b", 1}};
  const std::string assignment = EncodeConsumerAssignment(partitions);
  CHECK(*DecodeConsumerAssignment(assignment) == partitions);
  const std::string subscription = EncodeConsumerSubscription({"a", "b"});
  CHECK(*DecodeConsumerSubscription(subscription) == std::vector<std::string>{"a", "b"});
  // The user data at the end is not read: cuts before it must fail.
  for (size_t cut = 0; cut + 4 < assignment.size(); ++cut) {
    CHECK_FALSE(DecodeConsumerAssignment(assignment.substr(0, cut)).ok());
  }
  for (size_t cut = 0; cut + 4 < subscription.size(); ++cut) {
    CHECK_FALSE(DecodeConsumerSubscription(subscription.substr(0, cut)).ok());
  }
  // A count far beyond the bytes is refused before anything is allocated.
  CHECK_FALSE(DecodeConsumerAssignment(std::string("\0\0\x7f\xff\xff\xff", 6)).ok());
}

}  // namespace
}  // namespace rill::groups
