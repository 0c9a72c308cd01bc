#include "groups/group_store.h"

#include "api/error.h"
#include "catch2/catch.hpp"

namespace rill::groups {
namespace {

// A group of members driven by heartbeats, with every record kept so a second store can
// replay them.
struct Harness {
  GroupLimits limits = [] {
    GroupLimits l;
    l.session_timeout_ms = 1000;
    l.default_rebalance_timeout_ms = 2000;
    return l;
  }();
  GroupStore store{limits};
  TopicCatalog topics = {{"orders", 6}};
  std::vector<GroupLogRecord> log;
  int64_t now = 1000;
  int next_id = 0;

  absl::StatusOr<HeartbeatResponse> Beat(HeartbeatRequest req) {
    req.group_id = "g";
    if (req.subscribed_topics.empty() && req.subscribed_regex.empty()) {
      req.subscribed_topics = {"orders"};
    }
    std::vector<GroupLogRecord> out;
    auto r = store.Heartbeat(
        req, topics, now, [this] { return "m" + std::to_string(next_id++); }, &out);
    log.insert(log.end(), out.begin(), out.end());
    return r;
  }
};

struct Member {
  std::string id;
  int32_t epoch = 0;
  PartitionSet owned;
};

// One heartbeat: the member gives up what it was told to and takes what it was given.
void Step(Harness& h, Member& m) {
  HeartbeatRequest req;
  req.member_id = m.id;
  req.member_epoch = m.epoch;
  req.owned = m.owned;
  auto r = h.Beat(req);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  m.id = r->member_id;
  m.epoch = r->member_epoch;
  m.owned = r->assignment;
}

void Settle(Harness& h, std::vector<Member*> members) {
  for (int round = 0; round < 6; ++round) {
    for (Member* m : members) Step(h, *m);
  }
}

TEST_CASE("groups: three members split six partitions, a fourth takes only what must move",
          "[groups]") {
  Harness h;
  Member a, b, c;
  Settle(h, {&a, &b, &c});
  for (Member* m : {&a, &b, &c}) CHECK(m->owned.size() == 2);
  PartitionSet all;
  for (Member* m : {&a, &b, &c}) all.insert(m->owned.begin(), m->owned.end());
  CHECK(all.size() == 6);

  const auto before = std::vector<PartitionSet>{a.owned, b.owned, c.owned};
  Member d;
  HeartbeatRequest join;
  auto joined = h.Beat(join);
  REQUIRE(joined.ok());
  d = {joined->member_id, joined->member_epoch, joined->assignment};
  CHECK(d.owned.empty());  // nothing is free until someone revokes
  // While its partitions are on their way, the joiner is asked to come back sooner.
  CHECK(joined->heartbeat_interval_ms == h.limits.reconciling_heartbeat_interval_ms);
  // Never two owners: after every single step, owned sets stay disjoint.
  for (int round = 0; round < 6; ++round) {
    for (Member* m : {&a, &b, &c, &d}) {
      Step(h, *m);
      PartitionSet seen;
      size_t total = 0;
      for (Member* x : {&a, &b, &c, &d}) {
        seen.insert(x->owned.begin(), x->owned.end());
        total += x->owned.size();
      }
      REQUIRE(seen.size() == total);
    }
  }
  size_t kept = 0;
  for (int i = 0; i < 3; ++i) {
    const Member& m = *std::vector<Member*>{&a, &b, &c}[i];
    for (const auto& tp : before[i]) kept += m.owned.count(tp);
  }
  CHECK(kept == 6 - d.owned.size());
  CHECK(d.owned.size() >= 1);
  auto described = h.store.Describe("g");
  REQUIRE(described.ok());
  CHECK(described->state == "stable");
}

TEST_CASE("groups: stale epochs are fenced, expired members lose their partitions", "[groups]") {
  Harness h;
  Member a, b;
  Settle(h, {&a, &b});
  CHECK(a.owned.size() == 3);

  HeartbeatRequest zombie;
  zombie.member_id = a.id;
  zombie.member_epoch = a.epoch + 5;
  CHECK(api::ErrorCodeOf(h.Beat(zombie).status()) == v1::FENCED_MEMBER_EPOCH);

  // b stops heartbeating; a keeps going and gets everything after the session timeout.
  h.now += 600;
  Step(h, a);
  h.now += 600;
  std::vector<GroupLogRecord> out;
  std::map<std::string, ClassicCompletions> released;
  h.store.ExpireSessions([&] { return h.topics; }, h.now, &released, &out);
  h.log.insert(h.log.end(), out.begin(), out.end());
  Settle(h, {&a});
  CHECK(a.owned.size() == 6);

  // The expelled member can neither heartbeat nor commit.
  HeartbeatRequest expelled;
  expelled.member_id = b.id;
  expelled.member_epoch = b.epoch;
  CHECK(api::ErrorCodeOf(h.Beat(expelled).status()) == v1::UNKNOWN_MEMBER_ID);
  std::vector<absl::Status> results;
  CHECK(api::ErrorCodeOf(h.store.CommitOffsets("g", b.id, b.epoch, {{{"orders", 0}, 5, ""}},
                                               h.topics, h.now, &results, &out)) ==
        v1::UNKNOWN_MEMBER_ID);
}

TEST_CASE("groups: commits are checked per partition and replay rebuilds the state", "[groups]") {
  Harness h;
  Member a;
  Settle(h, {&a});
  std::vector<absl::Status> results;
  std::vector<GroupLogRecord> out;
  REQUIRE(h.store
              .CommitOffsets("g", a.id, a.epoch,
                             {{{"orders", 1}, 42, "meta"},
                              {{"orders", 9}, 1, ""},
                              {{"nope", 0}, 1, ""},
                              {{"orders", 2}, -3, ""},
                              {{"orders", 3}, 1, std::string(5000, 'x')}},
                             h.topics, h.now, &results, &out)
              .ok());
  REQUIRE(results.size() == 5);
  CHECK(results[0].ok());
  CHECK(api::ErrorCodeOf(results[1]) == v1::UNKNOWN_PARTITION);
  CHECK(api::ErrorCodeOf(results[2]) == v1::UNKNOWN_TOPIC);
  CHECK(api::ErrorCodeOf(results[3]) == v1::INVALID_OFFSET);
  CHECK(api::ErrorCodeOf(results[4]) == v1::OFFSET_METADATA_TOO_LARGE);
  h.log.insert(h.log.end(), out.begin(), out.end());
  CHECK(api::ErrorCodeOf(h.store.CommitOffsets("g", a.id, a.epoch - 1, {}, h.topics, h.now,
                                               &results, &out)) == v1::STALE_MEMBER_EPOCH);
  // A standalone commit is refused while the group has members.
  CHECK(api::ErrorCodeOf(h.store.CommitOffsets("g", "", -1, {{{"orders", 0}, 1, ""}}, h.topics,
                                               h.now, &results, &out)) == v1::UNKNOWN_MEMBER_ID);

  GroupStore replayed(h.limits);
  for (const auto& r : h.log) REQUIRE(replayed.Apply(r, h.now).ok());
  auto original = h.store.Describe("g");
  auto rebuilt = replayed.Describe("g");
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt->group_epoch == original->group_epoch);
  CHECK(rebuilt->state == original->state);
  REQUIRE(rebuilt->members.size() == 1);
  CHECK(rebuilt->members[0].assigned == original->members[0].assigned);
  CHECK(rebuilt->members[0].member_epoch == original->members[0].member_epoch);
  auto offsets = replayed.FetchOffsets("g", {{"orders", 1}});
  CHECK(offsets[{"orders", 1}].offset == 42);
  CHECK(offsets[{"orders", 1}].metadata == "meta");

  // Leaving empties the group; then it may be reset and deleted.
  HeartbeatRequest leave;
  leave.member_id = a.id;
  leave.member_epoch = -1;
  REQUIRE(h.Beat(leave).ok());
  REQUIRE(h.store.ResetOffsets("g", {{{"orders", 1}, 7}}, h.now, &out).ok());
  CHECK(h.store.FetchOffsets("g", {{"orders", 1}})[{"orders", 1}].offset == 7);
  REQUIRE(h.store.DeleteGroup("g", &out).ok());
  const absl::Status missing = h.store.Describe("g").status();
  CHECK(api::ErrorCodeOf(missing) == v1::GROUP_NOT_FOUND);
  // The code travels beside the message; a message that repeated it would print it twice.
  CHECK(missing.message() == "no group 'g'");
}

TEST_CASE("groups: a full group refuses a new member but lets a member start over", "[groups]") {
  Harness h;
  h.limits.max_members = 2;
  GroupStore store(h.limits);
  auto join = [&](const std::string& member_id) {
    HeartbeatRequest req;
    req.group_id = "g";
    req.member_id = member_id;
    req.subscribed_topics = {"orders"};
    std::vector<GroupLogRecord> out;
    return store.Heartbeat(
        req, h.topics, h.now, [&] { return "m" + std::to_string(h.next_id++); }, &out);
  };
  auto a = join("");
  REQUIRE(a.ok());
  REQUIRE(join("").ok());
  CHECK(api::ErrorCodeOf(join("").status()) == v1::INVALID_REQUEST);
  // A member rejoining with epoch 0 replaces its old incarnation instead of counting twice.
  CHECK(join(a->member_id).ok());
}

TEST_CASE("groups: a static member restarting keeps its partitions", "[groups]") {
  Harness h;
  Member a, b;
  auto join_static = [&](Member& m, const std::string& instance) {
    HeartbeatRequest req;
    req.instance_id = instance;
    auto r = h.Beat(req);
    REQUIRE(r.ok());
    m = {r->member_id, r->member_epoch, r->assignment};
  };
  join_static(a, "host-a");
  join_static(b, "host-b");
  Settle(h, {&a, &b});
  const PartitionSet had = a.owned;
  REQUIRE(had.size() == 3);

  // A second instance claiming host-a while it is alive is refused.
  HeartbeatRequest dup;
  dup.instance_id = "host-a";
  CHECK(api::ErrorCodeOf(h.Beat(dup).status()) == v1::UNRELEASED_INSTANCE_ID);

  HeartbeatRequest leave;
  leave.member_id = a.id;
  leave.member_epoch = -2;
  REQUIRE(h.Beat(leave).ok());
  Member restarted;
  join_static(restarted, "host-a");
  CHECK(restarted.owned == had);
  Settle(h, {&restarted, &b});
  CHECK(restarted.owned == had);
}

TEST_CASE("groups: new partitions of a subscribed topic are picked up", "[groups]") {
  Harness h;
  Member a, b;
  Settle(h, {&a, &b});
  h.topics["orders"] = 10;
  Settle(h, {&a, &b});
  CHECK(a.owned.size() + b.owned.size() == 10);
  CHECK(a.owned.size() == 5);

  HeartbeatRequest pattern;
  pattern.subscribed_regex = "(";
  CHECK(api::ErrorCodeOf(h.Beat(pattern).status()) == v1::INVALID_REQUEST);
  CHECK(GroupPartitionFor("my-group", 50) >= 0);
  // Java: "my-group".hashCode() == -1906497762; Kafka takes abs() % partitions.
  CHECK(GroupPartitionFor("my-group", 50) == 1906497762 % 50);
}

}  // namespace
}  // namespace rill::groups
