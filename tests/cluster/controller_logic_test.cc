#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "api/error.h"
#include "cluster/controller_logic.h"
#include "cluster/metadata_image.h"
#include "cluster/placement.h"

namespace rill::cluster {
namespace {

using api::ErrorCodeOf;

constexpr char kClusterId[] = "test-cluster";
constexpr int64_t kSessionMs = 9000;

std::string Incarnation(char c) { return std::string(16, c); }

// An image and the controller deciding against it, with the records applied as a committed log
// would apply them.
struct Harness {
  MetadataImage image;
  ControllerLogic controller{kClusterId, [] {
                               ControllerLimits limits;
                               limits.session_timeout_ms = kSessionMs;
                               limits.max_partitions_per_topic = 100;
                               return limits;
                             }()};
  int64_t now_ms = 1'000'000;
  Offset next{0};

  void Commit(const std::vector<v1::MetadataRecord>& records) {
    for (const auto& r : records) {
      INFO(r.DebugString());
      REQUIRE(image.Apply(r, next).ok());
      ++next;
    }
  }
  template <typename T>
  T Commit(absl::StatusOr<T> decided) {
    INFO(decided.status().ToString());
    REQUIRE(decided.ok());
    if constexpr (std::is_same_v<T, HeartbeatResult> || std::is_same_v<T, ProducerIdBlock>) {
      Commit(decided->records);
    } else {
      Commit(*decided);
    }
    return *decided;
  }

  BrokerRegistration Registration(int node, char incarnation = 'a') {
    return BrokerRegistration{
        NodeId(node),
        kClusterId,
        Incarnation(incarnation),
        {{"internal", "127.0.0.1", 9000 + node}, {"external", "localhost", 19000 + node}},
        ""};
  }
  // Registers and unfences `node`.
  void Join(int node, char incarnation = 'a') {
    Commit(controller.RegisterBroker(image, Registration(node, incarnation), now_ms));
    const BrokerInfo* broker = image.Broker(NodeId(node));
    REQUIRE(broker != nullptr);
    auto beat = Commit(controller.Heartbeat(image, NodeId(node), broker->epoch, next, now_ms));
    REQUIRE_FALSE(beat.fenced);
  }
};

std::map<NodeId, int> LeaderCounts(const MetadataImage& image) {
  std::map<NodeId, int> counts;
  for (const auto& [id, topic] : image.topics()) {
    for (const auto& p : topic.partitions) ++counts[p.leader];
  }
  return counts;
}

std::map<NodeId, int> ReplicaCounts(const MetadataImage& image) {
  std::map<NodeId, int> counts;
  for (const auto& [id, topic] : image.topics()) {
    for (const auto& p : topic.partitions) {
      for (NodeId r : p.replicas) ++counts[r];
    }
  }
  return counts;
}

TEST_CASE("controller: brokers register fenced and are unfenced once caught up", "[cluster]") {
  Harness h;
  h.Commit(h.controller.RegisterBroker(h.image, h.Registration(1), h.now_ms));
  const BrokerInfo* broker = h.image.Broker(NodeId(1));
  REQUIRE(broker != nullptr);
  CHECK(broker->fenced);
  CHECK(broker->epoch == 1);
  CHECK(broker->endpoints.size() == 2);
  CHECK(h.image.LiveBrokers().empty());

  // Behind its own registration: stays fenced, and nothing is written.
  auto behind = h.controller.Heartbeat(h.image, NodeId(1), 1, Offset(-1), h.now_ms);
  REQUIRE(behind.ok());
  CHECK(behind->fenced);
  CHECK(behind->records.empty());
  auto caught_up = h.Commit(h.controller.Heartbeat(h.image, NodeId(1), 1, h.next, h.now_ms));
  CHECK_FALSE(caught_up.fenced);
  CHECK(h.image.LiveBrokers() == std::vector<NodeId>{NodeId(1)});
  // Heartbeats of a live broker change nothing in the log.
  auto steady = h.controller.Heartbeat(h.image, NodeId(1), 1, h.next, h.now_ms + 100);
  REQUIRE(steady.ok());
  CHECK(steady->records.empty());

  CHECK(ErrorCodeOf(h.controller.Heartbeat(h.image, NodeId(1), 7, h.next, h.now_ms).status()) ==
        v1::STALE_BROKER_EPOCH);
  CHECK(ErrorCodeOf(h.controller.Heartbeat(h.image, NodeId(2), 1, h.next, h.now_ms).status()) ==
        v1::BROKER_NOT_REGISTERED);
}

TEST_CASE(
    "controller: registrations from another cluster, a second process or bad endpoints "
    "are refused",
    "[cluster]") {
  Harness h;
  h.Join(1);
  auto other = h.Registration(2);
  other.cluster_id = "elsewhere";
  CHECK(ErrorCodeOf(h.controller.RegisterBroker(h.image, other, h.now_ms).status()) ==
        v1::INCONSISTENT_CLUSTER_ID);

  // A second process with node id 1 while the first one's session is alive.
  auto duplicate = h.controller.RegisterBroker(h.image, h.Registration(1, 'b'), h.now_ms + 1000);
  CHECK(ErrorCodeOf(duplicate.status()) == v1::DUPLICATE_BROKER_REGISTRATION);
  // The same process again is no change.
  auto again = h.controller.RegisterBroker(h.image, h.Registration(1, 'a'), h.now_ms + 1000);
  REQUIRE(again.ok());
  CHECK(again->empty());

  auto no_endpoints = h.Registration(3);
  no_endpoints.endpoints.clear();
  CHECK(ErrorCodeOf(h.controller.RegisterBroker(h.image, no_endpoints, h.now_ms).status()) ==
        v1::INVALID_REQUEST);
  auto twice = h.Registration(3);
  twice.endpoints[1].name = twice.endpoints[0].name;
  CHECK(ErrorCodeOf(h.controller.RegisterBroker(h.image, twice, h.now_ms).status()) ==
        v1::INVALID_REQUEST);
  auto bad_port = h.Registration(3);
  bad_port.endpoints[0].port = 70000;
  CHECK(ErrorCodeOf(h.controller.RegisterBroker(h.image, bad_port, h.now_ms).status()) ==
        v1::INVALID_REQUEST);
  CHECK(ErrorCodeOf(h.controller.RegisterBroker(h.image, h.Registration(0), h.now_ms).status()) ==
        v1::INVALID_REQUEST);
}

TEST_CASE("controller: a broker that misses its session is fenced, and rejoins with a new epoch",
          "[cluster]") {
  Harness h;
  h.Join(1);
  h.Join(2);
  h.now_ms += kSessionMs - 1;
  REQUIRE(
      h.controller.Heartbeat(h.image, NodeId(2), h.image.Broker(NodeId(2))->epoch, h.next, h.now_ms)
          .ok());
  CHECK(h.controller.ExpireSessions(h.image, h.now_ms).empty());
  h.now_ms += 1;
  auto fence = h.controller.ExpireSessions(h.image, h.now_ms);
  REQUIRE(fence.size() == 1);
  CHECK(fence[0].broker_fencing().node_id() == 1);
  h.Commit(fence);
  CHECK(h.image.Broker(NodeId(1))->fenced);
  CHECK(h.image.LiveBrokers() == std::vector<NodeId>{NodeId(2)});
  // Fenced brokers are not fenced again.
  CHECK(h.controller.ExpireSessions(h.image, h.now_ms).empty());

  // The restarted process registers anew (its session is gone) and gets a larger epoch; its
  // old incarnation's heartbeats are stale from then on.
  const int64_t old_epoch = h.image.Broker(NodeId(1))->epoch;
  h.Join(1, 'c');
  CHECK(h.image.Broker(NodeId(1))->epoch > h.image.Broker(NodeId(2))->epoch);
  CHECK(ErrorCodeOf(
            h.controller.Heartbeat(h.image, NodeId(1), old_epoch, h.next, h.now_ms).status()) ==
        v1::STALE_BROKER_EPOCH);

  // A new controller leader gives every broker a whole session before fencing anyone.
  ControllerLogic successor(kClusterId, h.controller.limits());
  successor.BecomeLeader(h.image, h.now_ms + 5 * kSessionMs);
  CHECK(successor.ExpireSessions(h.image, h.now_ms + 5 * kSessionMs).empty());
  CHECK(successor.ExpireSessions(h.image, h.now_ms + 6 * kSessionMs).size() == 2);
}

TEST_CASE("placement: partitions and leaders spread evenly over the live brokers", "[cluster]") {
  Harness h;
  for (int node : {1, 2, 3}) h.Join(node);

  SECTION("one replica each") {
    h.Commit(h.controller.CreateTopic(h.image, "a", 6, 1, {}));
    CHECK(LeaderCounts(h.image) ==
          std::map<NodeId, int>{{NodeId(1), 2}, {NodeId(2), 2}, {NodeId(3), 2}});
    // What exists counts: a second topic of 3 puts one on each again.
    h.Commit(h.controller.CreateTopic(h.image, "b", 4, 1, {}));
    auto leaders = LeaderCounts(h.image);
    CHECK(leaders[NodeId(1)] + leaders[NodeId(2)] + leaders[NodeId(3)] == 10);
    for (const auto& [node, count] : leaders) CHECK((count == 3 || count == 4));
  }
  SECTION("three replicas each") {
    h.Commit(h.controller.CreateTopic(h.image, "a", 6, 3, {}));
    CHECK(LeaderCounts(h.image) ==
          std::map<NodeId, int>{{NodeId(1), 2}, {NodeId(2), 2}, {NodeId(3), 2}});
    CHECK(ReplicaCounts(h.image) ==
          std::map<NodeId, int>{{NodeId(1), 6}, {NodeId(2), 6}, {NodeId(3), 6}});
    for (const auto& p : h.image.TopicByName("a")->partitions) {
      CHECK(p.leader == p.replicas.front());
      CHECK(std::set<NodeId>(p.replicas.begin(), p.replicas.end()).size() == 3);
    }
  }
  SECTION("a new broker takes the next partitions") {
    h.Commit(h.controller.CreateTopic(h.image, "a", 3, 1, {}));
    h.Join(4);
    h.Commit(h.controller.CreatePartitions(h.image, "a", 4));
    CHECK(h.image.TopicByName("a")->partitions[3].leader == NodeId(4));
  }
  SECTION("fenced brokers get nothing, and too few live brokers is an error") {
    h.Commit(h.controller.ExpireSessions(h.image, h.now_ms + kSessionMs));
    CHECK(h.image.LiveBrokers().empty());
    h.now_ms += kSessionMs;
    h.Join(2, 'z');
    h.Commit(h.controller.CreateTopic(h.image, "a", 3, 1, {}));
    CHECK(LeaderCounts(h.image) == std::map<NodeId, int>{{NodeId(2), 3}});
    auto too_many = h.controller.CreateTopic(h.image, "b", 1, 2, {});
    CHECK(ErrorCodeOf(too_many.status()) == v1::INVALID_REPLICATION_FACTOR);
  }
}

TEST_CASE("controller: topic changes are validated and become records", "[cluster]") {
  Harness h;
  h.Join(1);
  CHECK(ErrorCodeOf(h.controller.CreateTopic(h.image, "bad name", 1, 1, {}).status()) ==
        v1::INVALID_TOPIC);
  CHECK(ErrorCodeOf(h.controller.CreateTopic(h.image, "t", 0, 1, {}).status()) ==
        v1::INVALID_PARTITIONS);
  CHECK(ErrorCodeOf(h.controller.CreateTopic(h.image, "t", 101, 1, {}).status()) ==
        v1::INVALID_PARTITIONS);
  CHECK(ErrorCodeOf(
            h.controller.CreateTopic(h.image, "t", 1, 1, {{"retention.ms", "soon"}}).status()) ==
        v1::INVALID_CONFIG);
  h.Commit(h.controller.CreateTopic(h.image, "t", 2, 1, {{"retention.ms", "1000"}}));
  CHECK(ErrorCodeOf(h.controller.CreateTopic(h.image, "t", 1, 1, {}).status()) ==
        v1::TOPIC_ALREADY_EXISTS);
  const TopicInfo* t = h.image.TopicByName("t");
  REQUIRE(t != nullptr);
  const TopicId first_id = t->id;
  CHECK(t->configs.at("retention.ms") == "1000");

  h.Commit(h.controller.AlterConfigs(h.image, "t", {{"segment.ms", "60000"}}, {"retention.ms"}));
  CHECK(h.image.TopicByName("t")->configs == TopicConfigs{{"segment.ms", "60000"}});
  CHECK(ErrorCodeOf(h.controller.AlterConfigs(h.image, "t", {{"nope", "1"}}, {}).status()) ==
        v1::INVALID_CONFIG);
  CHECK(ErrorCodeOf(h.controller.CreatePartitions(h.image, "t", 2).status()) ==
        v1::INVALID_PARTITIONS);
  h.Commit(h.controller.CreatePartitions(h.image, "t", 5));
  CHECK(h.image.TopicByName("t")->partitions.size() == 5);

  h.Commit(h.controller.DeleteTopic(h.image, "t"));
  CHECK(h.image.TopicByName("t") == nullptr);
  CHECK(ErrorCodeOf(h.controller.DeleteTopic(h.image, "t").status()) == v1::UNKNOWN_TOPIC);
  CHECK(ErrorCodeOf(h.controller.CreatePartitions(h.image, "t", 9).status()) == v1::UNKNOWN_TOPIC);
  h.Commit(h.controller.CreateTopic(h.image, "t", 1, 1, {}));
  CHECK(h.image.TopicByName("t")->id != first_id);

  auto block = h.Commit(h.controller.AllocateProducerIds(h.image, NodeId(1), 1));
  CHECK(block.first == 0);
  auto next = h.Commit(h.controller.AllocateProducerIds(h.image, NodeId(1), 1));
  CHECK(next.first == block.first + block.count);
}

TEST_CASE("metadata image: a snapshot's records rebuild the same image", "[cluster]") {
  Harness h;
  for (int node : {1, 2, 3}) h.Join(node);
  h.Commit(h.controller.ExpireSessions(h.image, h.now_ms + kSessionMs));
  h.now_ms += kSessionMs;
  h.Join(2, 'q');
  h.Commit(h.controller.CreateTopic(h.image, "a", 3, 1, {{"retention.ms", "5"}}));
  h.Commit(h.controller.CreateTopic(h.image, "b", 2, 1, {}));
  h.Commit(h.controller.DeleteTopic(h.image, "a"));
  h.Commit(h.controller.AllocateProducerIds(h.image, NodeId(2), h.image.Broker(NodeId(2))->epoch));
  h.Join(4);
  h.Commit(h.controller.ReassignPartition(h.image, "b", 0, {NodeId(4)}, 1234));
  h.Commit(h.controller.Decommission(h.image, NodeId(3), true));

  MetadataImage restored;
  const Offset at = h.image.offset();
  for (const auto& record : h.image.ToRecords()) REQUIRE(restored.Apply(record, at).ok());
  CHECK(restored.offset() == at);
  CHECK(restored.topics() == h.image.topics());
  CHECK(restored.next_producer_id() == h.image.next_producer_id());
  CHECK(restored.decommissioning() == std::set<NodeId>{NodeId(3)});
  CHECK(restored.LiveBrokers() == h.image.LiveBrokers());
  REQUIRE(restored.brokers().size() == h.image.brokers().size());
  for (const auto& [id, broker] : h.image.brokers()) {
    const BrokerInfo& copy = restored.brokers().at(id);
    CHECK(copy.epoch == broker.epoch);
    CHECK(copy.incarnation_id == broker.incarnation_id);
    CHECK(copy.endpoints == broker.endpoints);
    CHECK(copy.fenced == broker.fenced);
  }
  CHECK(restored.ToRecords().size() == h.image.ToRecords().size());
}

TEST_CASE("metadata image: records that do not fit are refused and change nothing", "[cluster]") {
  Harness h;
  h.Join(1);
  h.Commit(h.controller.CreateTopic(h.image, "t", 1, 1, {}));
  const MetadataImage before = h.image;
  const std::string id = h.image.TopicByName("t")->id.ToBytes();

  v1::MetadataRecord r;
  r.set_version(kMetadataRecordVersion);
  SECTION("an unknown version") {
    r.set_version(2);
    r.mutable_remove_topic()->set_topic_id(id);
  }
  SECTION("no record at all") {}
  SECTION("a partition past the end") {
    r.mutable_partition()->set_topic_id(id);
    r.mutable_partition()->set_partition(5);
    r.mutable_partition()->add_replicas(1);
  }
  SECTION("a partition without replicas") {
    r.mutable_partition()->set_topic_id(id);
    r.mutable_partition()->set_partition(1);
  }
  SECTION("a partition of an unknown topic") {
    r.mutable_partition()->set_topic_id(TopicId(9, 9).ToBytes());
    r.mutable_partition()->add_replicas(1);
  }
  SECTION("a topic name that exists") {
    r.mutable_topic()->set_name("t");
    r.mutable_topic()->set_topic_id(TopicId(9, 9).ToBytes());
  }
  SECTION("a topic without an id") { r.mutable_topic()->set_name("u"); }
  SECTION("producer ids going back") { r.mutable_producer_ids()->set_next_producer_id(-5); }
  SECTION("a broker without an epoch") { r.mutable_register_broker()->set_node_id(4); }
  CHECK(absl::IsDataLoss(h.image.Apply(r, h.next)));
  CHECK(h.image == before);
  v1::MetadataRecord valid;
  valid.set_version(kMetadataRecordVersion);
  valid.mutable_remove_topic()->set_topic_id(id);
  CHECK(absl::IsDataLoss(h.image.Apply(valid, Offset(0))));  // an offset going back
}

// A harness with brokers 1-4 live and topic "t" of one partition on brokers 1, 2, 3.
struct MoveHarness : Harness {
  MoveHarness() {
    for (int node : {1, 2, 3, 4}) Join(node);
    Commit(controller.CreateTopic(image, "t", 1, 3, {}));
    const auto& replicas = Assignment().replicas;
    if (std::set<NodeId>(replicas.begin(), replicas.end()) !=
        std::set<NodeId>{NodeId(1), NodeId(2), NodeId(3)}) {
      Commit(controller.ReassignPartition(image, "t", 0, Nodes({1, 2, 3}), std::nullopt));
      Commit(controller.CompleteReassignment(image, image.TopicByName("t")->id, 0,
                                             Nodes({1, 2, 3})));
    }
    Commit(controller.ReassignPartition(image, "t", 0, Nodes({1, 2, 3}), std::nullopt));
    REQUIRE(Assignment().replicas == Nodes({1, 2, 3}));
  }
  static std::vector<NodeId> Nodes(std::initializer_list<int32_t> ids) {
    std::vector<NodeId> out;
    for (int32_t id : ids) out.push_back(NodeId(id));
    return out;
  }
  const PartitionAssignment& Assignment(const std::string& topic = "t", size_t p = 0) const {
    return image.TopicByName(topic)->partitions[p];
  }
  v1::ErrorCode Refusal(absl::StatusOr<std::vector<v1::MetadataRecord>> decided) {
    return ErrorCodeOf(decided.status());
  }
  void Fence(int node) {
    v1::MetadataRecord record = NewMetadataRecord();
    record.mutable_broker_fencing()->set_node_id(node);
    record.mutable_broker_fencing()->set_broker_epoch(image.Broker(NodeId(node))->epoch);
    record.mutable_broker_fencing()->set_fenced(true);
    Commit({record});
  }
};

TEST_CASE("controller: a move is validated, and ends when the leader reports its target",
          "[cluster]") {
  MoveHarness h;
  const auto N = &MoveHarness::Nodes;
  const TopicId id = h.image.TopicByName("t")->id;
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({1, 1, 4}), {})) ==
        v1::INVALID_REPLICA_ASSIGNMENT);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({1, 9}), {})) ==
        v1::INVALID_REPLICA_ASSIGNMENT);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, {}, {})) ==
        v1::INVALID_REPLICA_ASSIGNMENT);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({2, 3, 4}), -1)) ==
        v1::INVALID_REQUEST);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 1, N({2, 3, 4}), {})) ==
        v1::UNKNOWN_PARTITION);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "nope", 0, N({2, 3, 4}), {})) ==
        v1::UNKNOWN_TOPIC);

  // The same members in another order only change the preferred leader.
  h.Commit(h.controller.ReassignPartition(h.image, "t", 0, N({3, 1, 2}), {}));
  CHECK(h.Assignment().replicas == N({3, 1, 2}));
  CHECK_FALSE(h.Assignment().moving());

  h.Commit(h.controller.ReassignPartition(h.image, "t", 0, N({2, 3, 4}), {}));
  CHECK(h.Assignment().moving());
  CHECK(h.Assignment().replicas == N({3, 1, 2}));
  CHECK(h.Assignment().target_replicas == N({2, 3, 4}));
  CHECK(h.Assignment().move_throttle_bytes_per_second == ControllerLimits{}.move_throttle_bytes_per_second);
  // The group's first members stay what they were: every log begins with them.
  const std::set<NodeId> first = {NodeId(1), NodeId(2), NodeId(3)};
  auto first_members = [&] {
    const auto& m = h.Assignment().FirstMembers();
    return std::set<NodeId>(m.begin(), m.end());
  };
  CHECK(first_members() == first);
  CHECK(h.Assignment().Hosts() == N({3, 1, 2, 4}));
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({1, 2, 4}), {})) ==
        v1::REASSIGNMENT_IN_PROGRESS);
  CHECK(h.controller.ReassignPartition(h.image, "t", 0, N({2, 3, 4}), {})->empty());

  // A stale report changes nothing; the leader's report of the target ends the move.
  CHECK(h.Refusal(h.controller.CompleteReassignment(h.image, id, 0, N({1, 2, 3, 4}))) ==
        v1::INVALID_REPLICA_ASSIGNMENT);
  h.Commit(h.controller.CompleteReassignment(h.image, id, 0, N({4, 3, 2})));
  CHECK_FALSE(h.Assignment().moving());
  CHECK(h.Assignment().replicas == N({2, 3, 4}));
  CHECK(first_members() == first);
  CHECK(h.controller.CompleteReassignment(h.image, id, 0, N({2, 3, 4}))->empty());
}

TEST_CASE("controller: a move needs live new replicas and live majorities", "[cluster]") {
  MoveHarness h;
  const auto N = &MoveHarness::Nodes;
  h.Fence(4);
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({2, 3, 4}), {})) ==
        v1::NOT_ENOUGH_REPLICAS);
  h.Join(4, 'b');
  h.Fence(2);
  h.Fence(3);
  // Brokers 2 and 3 down: the partition has no live majority to carry a change.
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({1, 4}), {})) ==
        v1::NOT_ENOUGH_REPLICAS);
  h.Join(2, 'b');
  // Broker 3 down: {1, 2, 3} keeps its majority, but {3, 4, 5}-like targets must too.
  CHECK(h.Refusal(h.controller.ReassignPartition(h.image, "t", 0, N({3, 4}), {})) ==
        v1::NOT_ENOUGH_REPLICAS);
  h.Commit(h.controller.ReassignPartition(h.image, "t", 0, N({1, 2, 4}), 0));
  CHECK(h.Assignment().move_throttle_bytes_per_second == 0);
}

TEST_CASE("controller: a cancelled move turns back, keeping every broker that took part",
          "[cluster]") {
  MoveHarness h;
  const auto N = &MoveHarness::Nodes;
  CHECK(h.Refusal(h.controller.CancelReassignment(h.image, "t", 0)) ==
        v1::NO_REASSIGNMENT_IN_PROGRESS);
  h.Commit(h.controller.ReassignPartition(h.image, "t", 0, N({2, 3, 4}), {}));
  h.Commit(h.controller.CancelReassignment(h.image, "t", 0));
  CHECK(h.Assignment().replicas == N({1, 2, 3, 4}));
  CHECK(h.Assignment().target_replicas == N({1, 2, 3}));
  h.Commit(h.controller.CompleteReassignment(h.image, h.image.TopicByName("t")->id, 0,
                                             N({1, 2, 3})));
  CHECK(h.Assignment().replicas == N({1, 2, 3}));
  CHECK_FALSE(h.Assignment().moving());
}

TEST_CASE("controller: a decommissioned broker is drained a few partitions at a time",
          "[cluster]") {
  Harness h;
  ControllerLogic drainer(kClusterId, [] {
    ControllerLimits limits;
    limits.drain_moves_max = 2;
    return limits;
  }());
  for (int node : {1, 2, 3, 4}) h.Join(node);
  h.Commit(h.controller.CreateTopic(h.image, "t", 8, 3, {}));
  CHECK(drainer.PlanDrains(h.image).empty());
  CHECK(ErrorCodeOf(h.controller.Decommission(h.image, NodeId(9), true).status()) ==
        v1::INVALID_REQUEST);
  h.Commit(h.controller.Decommission(h.image, NodeId(4), true));
  CHECK(h.controller.Decommission(h.image, NodeId(4), true)->empty());
  // Three replicas each need three brokers besides a second drained one.
  CHECK(ErrorCodeOf(h.controller.Decommission(h.image, NodeId(3), true).status()) ==
        v1::NOT_ENOUGH_REPLICAS);
  // No new replicas go to a draining broker.
  h.Commit(h.controller.CreateTopic(h.image, "u", 4, 3, {}));
  for (const auto& p : h.image.TopicByName("u")->partitions) {
    CHECK(std::find(p.replicas.begin(), p.replicas.end(), NodeId(4)) == p.replicas.end());
  }
  const TopicInfo& topic = *h.image.TopicByName("t");
  auto hosting = [&] {
    int count = 0;
    for (const auto& p : h.image.TopicByName("t")->partitions) {
      const auto hosts = p.Hosts();
      count += std::find(hosts.begin(), hosts.end(), NodeId(4)) != hosts.end() ? 1 : 0;
    }
    return count;
  };
  REQUIRE(hosting() > 0);
  for (int round = 0; hosting() > 0; ++round) {
    REQUIRE(round < 10);
    auto moves = drainer.PlanDrains(h.image);
    REQUIRE(!moves.empty());
    CHECK(moves.size() <= 2);
    h.Commit(moves);
    int moving = 0;
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionAssignment& a = h.image.TopicByName("t")->partitions[p];
      if (!a.moving()) continue;
      ++moving;
      CHECK(std::set<NodeId>(a.target_replicas.begin(), a.target_replicas.end()).size() == 3);
      CHECK(std::find(a.target_replicas.begin(), a.target_replicas.end(), NodeId(4)) ==
            a.target_replicas.end());
    }
    CHECK(moving <= 2);
    // Nothing more starts while the limit's worth is moving.
    CHECK(drainer.PlanDrains(h.image).empty());
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionAssignment& a = h.image.TopicByName("t")->partitions[p];
      if (a.moving()) {
        h.Commit(h.controller.CompleteReassignment(h.image, topic.id, static_cast<int32_t>(p),
                                                   a.target_replicas));
      }
    }
  }
  CHECK(drainer.PlanDrains(h.image).empty());
  CHECK(h.image.Decommissioning(NodeId(4)));
}

TEST_CASE("controller: recommissioning turns back the moves still draining the broker",
          "[cluster]") {
  MoveHarness h;
  const auto N = &MoveHarness::Nodes;
  h.Commit(h.controller.Decommission(h.image, NodeId(3), true));
  h.Commit(h.controller.PlanDrains(h.image));
  REQUIRE(h.Assignment().target_replicas == N({1, 2, 4}));
  h.Commit(h.controller.Decommission(h.image, NodeId(3), false));
  CHECK_FALSE(h.image.Decommissioning(NodeId(3)));
  CHECK(h.Assignment().target_replicas == N({1, 2, 3}));
  CHECK(h.Assignment().replicas == N({1, 2, 3, 4}));
}

}  // namespace
}  // namespace rill::cluster
