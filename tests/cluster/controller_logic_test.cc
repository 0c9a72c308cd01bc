#include <catch2/catch.hpp>
#include <map>

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

  MetadataImage restored;
  const Offset at = h.image.offset();
  for (const auto& record : h.image.ToRecords()) REQUIRE(restored.Apply(record, at).ok());
  CHECK(restored.offset() == at);
  CHECK(restored.topics() == h.image.topics());
  CHECK(restored.next_producer_id() == h.image.next_producer_id());
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

}  // namespace
}  // namespace rill::cluster
