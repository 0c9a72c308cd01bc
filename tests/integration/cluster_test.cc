// Several rill-broker processes forming one cluster on 127.0.0.1 (ctest label `cluster`): the
// controller quorum, membership and fencing, placement, and what survives a broker's or the
// whole cluster's restart. Every process is stopped by the test, also when it fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "rill/internal/v1/controller.grpc.pb.h"
#include "rill/internal/v1/transport.grpc.pb.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_util.h"

namespace rill::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<Producer> ProducerFor(const std::string& bootstrap) {
  ProducerOptions options;
  options.client.bootstrap_brokers = bootstrap;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  return std::move(*producer);
}

// Sends one record to each of partitions 0..count-1 of `topic`; each must be acknowledged.
void SendToEach(Producer& producer, const std::string& topic, int count) {
  for (int p = 0; p < count; ++p) {
    auto sent = producer.Send(ProducerRecord{topic, {}, "x", {}, p, {}}, nullptr).get();
    INFO(sent.status().ToString());
    CHECK(sent.ok());
  }
}

void CreateTopicVia(TestCluster& cluster, int node, const std::string& name, int partitions) {
  auto admin = cluster.AdminOf(cluster.broker(node).address());
  absl::Status s = admin->CreateTopic(NewTopic{name, partitions, 1, {}});
  INFO(s.ToString());
  REQUIRE(s.ok());
}

}  // namespace

TEST_CASE("cluster: a topic created through broker 3 is on every broker, spread evenly, and "
          "reads back complete",
          "[cluster]") {
  TestCluster cluster(3);
  CreateTopicVia(cluster, 3, "spread", 6);
  std::map<int32_t, int> leaders;
  for (int node = 1; node <= 3; ++node) {
    // The broker asked answers once it has the topic; the others have it moments later.
    auto admin = cluster.AdminOf(cluster.broker(node).address());
    REQUIRE(WaitFor([&] { return admin->DescribeTopic("spread").ok(); }, std::chrono::seconds(5)));
    auto described = admin->DescribeTopic("spread");
    INFO(described.status().ToString());
    REQUIRE(described.ok());
    REQUIRE(described->partitions.size() == 6);
    if (node == 1) {
      for (const auto& p : described->partitions) ++leaders[p.leader];
    }
  }
  CHECK(leaders == std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}});

  auto producer = ProducerFor(cluster.Bootstrap());
  constexpr int kRecords = 600;
  std::vector<std::future<absl::StatusOr<RecordMetadata>>> sends;
  for (int i = 0; i < kRecords; ++i) {
    sends.push_back(producer->Send(
        ProducerRecord{"spread", std::to_string(i), std::to_string(i), {}, i % 6, {}}, nullptr));
  }
  for (auto& f : sends) {
    auto sent = f.get();
    INFO(sent.status().ToString());
    REQUIRE(sent.ok());
  }
  ConsumerOptions consumer_options;
  consumer_options.client.bootstrap_brokers = cluster.Bootstrap();
  auto consumer = Consumer::Create(consumer_options);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> all;
  for (int p = 0; p < 6; ++p) all.push_back({"spread", p});
  REQUIRE((*consumer)->Assign(all).ok());
  REQUIRE((*consumer)->SeekToBeginning(all).ok());
  std::set<std::string> seen;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (seen.size() < kRecords && Clock::now() < deadline) {
    auto records = (*consumer)->Poll(500);
    INFO(records.status().ToString());
    REQUIRE(records.ok());
    for (const auto& r : *records) {
      CHECK(r.partition == std::stoi(*r.value) % 6);
      seen.insert(*r.value);
    }
  }
  CHECK(seen.size() == kRecords);
}

TEST_CASE("cluster: when the controller leader is killed another takes over and the old one "
          "catches up on return",
          "[cluster]") {
  TestCluster cluster(3);
  const int old_leader = cluster.ControllerLeader();
  REQUIRE(old_leader > 0);
  cluster.broker(old_leader).Kill();
  const int survivor = old_leader == 1 ? 2 : 1;
  auto admin = cluster.AdminOf(cluster.broker(survivor).address());
  const auto killed_at = Clock::now();
  bool created = WaitFor([&] { return admin->CreateTopic(NewTopic{"after", 2, 1, {}}).ok(); },
                         std::chrono::seconds(20));
  INFO(cluster.Logs());
  REQUIRE(created);
  const auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(
      Clock::now() - killed_at);
  WARN(fmt::format("controller failover: {} ms from kill to a topic created", failover.count()));
  CHECK(cluster.ControllerLeader() != old_leader);
  cluster.broker(old_leader).Start();
  REQUIRE(cluster.WaitReady(old_leader));
  auto described =
      cluster.AdminOf(cluster.broker(old_leader).address())->DescribeTopic("after");
  INFO(described.status().ToString());
  REQUIRE(described.ok());
  CHECK(described->partitions.size() == 2);
}

TEST_CASE("cluster: a killed broker is fenced with its partitions offline, and serves again when back",
          "[cluster]") {
  TestCluster cluster(3);
  CreateTopicVia(cluster, 1, "fence", 3);
  const int victim = cluster.ControllerLeader() == 3 ? 2 : 3;
  cluster.broker(victim).Kill();
  auto admin = cluster.AdminOf(cluster.Bootstrap({victim}));
  bool offline = WaitFor(
      [&] {
        auto described = admin->DescribeCluster();
        if (!described.ok()) return false;
        int of_victim = 0;
        for (const auto& p : described->offline_partitions) of_victim += p.topic == "fence";
        bool fenced = false;
        for (const auto& b : described->brokers) fenced |= b.node_id == victim && b.fenced;
        return of_victim == 1 && fenced;
      },
      std::chrono::seconds(15));
  INFO(cluster.Logs());
  REQUIRE(offline);
  cluster.broker(victim).Start();
  REQUIRE(cluster.WaitReady(victim));
  bool back = WaitFor(
      [&] {
        auto described = admin->DescribeCluster();
        if (!described.ok() || !described->offline_partitions.empty()) return false;
        for (const auto& b : described->brokers) {
          if (b.fenced) return false;
        }
        return described->brokers.size() == 3;
      },
      std::chrono::seconds(15));
  REQUIRE(back);
  SendToEach(*ProducerFor(cluster.Bootstrap()), "fence", 3);
}

TEST_CASE("cluster: after a full restart the metadata is back, from a snapshot", "[cluster]") {
  TestCluster cluster(3, {"--metadata-snapshot-interval-records", "5"});
  for (int i = 0; i < 4; ++i) CreateTopicVia(cluster, 1 + i % 3, fmt::format("t{}", i), 2);
  auto topic_ids = [&](int node) {
    auto admin = cluster.AdminOf(cluster.broker(node).address());
    std::string ids;
    for (int i = 0; i < 4; ++i) {
      auto described = admin->DescribeTopic(fmt::format("t{}", i));
      INFO(described.status().ToString());
      REQUIRE(described.ok());
      ids += described->topic_id + " ";
    }
    return ids;
  };
  const std::string before_ids = topic_ids(1);
  for (int node = 1; node <= 3; ++node) {
    CHECK(cluster.broker(node).log().find("metadata snapshot at offset") != std::string::npos);
    cluster.broker(node).Stop();
  }
  for (int node = 1; node <= 3; ++node) cluster.broker(node).Start();
  for (int node = 1; node <= 3; ++node) {
    REQUIRE(cluster.WaitReady(node));
    CHECK(cluster.broker(node).log().find("metadata image restored from the snapshot") !=
          std::string::npos);
  }
  CHECK(topic_ids(2) == before_ids);
}

TEST_CASE("cluster: a topic deleted and recreated while a broker is down comes back new there",
          "[cluster]") {
  TestCluster cluster(3);
  CreateTopicVia(cluster, 1, "phoenix", 3);
  SendToEach(*ProducerFor(cluster.Bootstrap()), "phoenix", 3);
  const int down = cluster.ControllerLeader() == 3 ? 2 : 3;
  cluster.broker(down).Stop();
  auto admin = cluster.AdminOf(cluster.Bootstrap({down}));
  REQUIRE(admin->DeleteTopic("phoenix").ok());
  REQUIRE(admin->CreateTopic(NewTopic{"phoenix", 3, 1, {}}).ok());
  cluster.broker(down).Start();
  REQUIRE(cluster.WaitReady(down));
  // Every partition of the new topic is empty, the one on the returning broker too.
  bool empty = WaitFor(
      [&] {
        auto described =
            cluster.AdminOf(cluster.broker(down).address())->DescribeTopic("phoenix");
        if (!described.ok() || described->partitions.size() != 3) return false;
        auto offsets =
            cluster.AdminOf(cluster.Bootstrap())->ListOffsets("phoenix", OffsetSpec{});
        if (!offsets.ok() || offsets->size() != 3) return false;
        for (const auto& [partition, offset] : *offsets) {
          if (offset != 0) return false;
        }
        return true;
      },
      std::chrono::seconds(15));
  INFO(cluster.Logs());
  CHECK(empty);
  CHECK(cluster.broker(down).log().find("removed topic phoenix") != std::string::npos);
}

TEST_CASE("cluster: a broker of another cluster, a duplicate node id or other voters is refused",
          "[cluster]") {
  TestCluster cluster(3);
  const int port = FreePort();
  SECTION("another cluster id") {
    auto stranger = cluster.Spawn(4, "otherClusterIdAAAAAAAA", cluster.voters(), port);
    REQUIRE(WaitFor([&] { return stranger->log().find("refused this broker") != std::string::npos; },
                    std::chrono::seconds(15)));
    CHECK(stranger->log().find("is not this cluster's") != std::string::npos);
    CHECK(stranger->Stop() != 0);
  }
  SECTION("a node id already held by a live broker") {
    auto twin = cluster.Spawn(2, kClusterId, cluster.voters(), port, "twin");
    REQUIRE(WaitFor([&] { return twin->log().find("refused this broker") != std::string::npos; },
                    std::chrono::seconds(20)));
    CHECK(twin->log().find("node id 2 is held by another running broker") != std::string::npos);
    CHECK(twin->Stop() != 0);
    CHECK(cluster.WaitReady(2));
  }
  SECTION("a voter list that disagrees") {
    auto odd = cluster.Spawn(4, kClusterId, cluster.voters() + ",9@127.0.0.1:1", port);
    REQUIRE(WaitFor([&] { return odd->log().find("refused this broker") != std::string::npos; },
                    std::chrono::seconds(15)));
    CHECK(odd->log().find("controller voters") != std::string::npos);
    CHECK(odd->Stop() != 0);
  }
}

TEST_CASE("cluster: consumer groups coordinated on different brokers consume and commit",
          "[cluster]") {
  TestCluster cluster(3);
  CreateTopicVia(cluster, 1, "work", 3);
  SendToEach(*ProducerFor(cluster.Bootstrap()), "work", 3);
  // Eight groups: their __consumer_offsets partitions lie on every broker, so most are
  // coordinated by a broker other than the one the client asks first.
  for (int g = 0; g < 8; ++g) {
    const std::string group = fmt::format("group-{}", g);
    ConsumerOptions options;
    options.client.bootstrap_brokers = cluster.Bootstrap();
    options.group_id = group;
    options.auto_offset_reset = OffsetReset::kEarliest;
    auto consumer = Consumer::Create(options);
    REQUIRE(consumer.ok());
    REQUIRE((*consumer)->Subscribe({"work"}).ok());
    size_t read = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (read < 3 && Clock::now() < deadline) {
      auto records = (*consumer)->Poll(200);
      REQUIRE(records.ok());
      read += records->size();
    }
    INFO(group);
    if (read != 3) UNSCOPED_INFO(cluster.Logs());
    REQUIRE(read == 3);
    absl::Status committed = (*consumer)->Commit();
    INFO(committed.ToString());
    REQUIRE(committed.ok());
    (*consumer)->Close();
    auto described = cluster.AdminOf(cluster.Bootstrap())->DescribeGroup(group);
    INFO(described.status().ToString());
    REQUIRE(described.ok());
    CHECK(described->total_lag == 0);
  }
  // Listing asks every broker: all eight are there.
  auto listed = cluster.AdminOf(cluster.broker(1).address())->ListGroups();
  INFO(listed.status().ToString());
  REQUIRE(listed.ok());
  std::set<std::string> names;
  for (const auto& g : *listed) names.insert(g.group_id);
  for (int g = 0; g < 8; ++g) CHECK(names.contains(fmt::format("group-{}", g)));
}

TEST_CASE("cluster: Metadata answers with the addresses of the listener a request came in on",
          "[cluster]") {
  TestCluster cluster(3, {"--listeners", "client://127.0.0.1:0,external://127.0.0.1:0",
                          "--advertised-listeners", "client://inside.example:9290"});
  auto external = [&](int node) {
    const std::string log = cluster.broker(node).log();
    const size_t at = log.find("external://");
    REQUIRE(at != std::string::npos);
    const size_t start = at + std::string("external://").size();
    return log.substr(start, log.find_first_of(" ,", start) - start);
  };
  // Through the client listener: the names advertised for it (reachable inside a container
  // network, say, not from here).
  auto inside = cluster.AdminOf(cluster.broker(1).address())->DescribeCluster();
  REQUIRE(inside.ok());
  REQUIRE(inside->brokers.size() == 3);
  for (const auto& b : inside->brokers) CHECK(b.host == "inside.example");
  // Through the external listener: each broker's external address, and a client that only
  // knows those produces to partitions on every broker.
  auto outside = cluster.AdminOf(external(2))->DescribeCluster();
  REQUIRE(outside.ok());
  for (const auto& b : outside->brokers) {
    CHECK(fmt::format("{}:{}", b.host, b.port) == external(b.node_id));
  }
  const std::string bootstrap = external(1) + "," + external(2) + "," + external(3);
  REQUIRE(cluster.AdminOf(bootstrap)->CreateTopic(NewTopic{"outside", 3, 1, {}}).ok());
  SendToEach(*ProducerFor(bootstrap), "outside", 3);
}

TEST_CASE("cluster: bad input on the inter-broker port gets errors and nothing else",
          "[cluster]") {
  TestCluster cluster(3);
  const std::string target = cluster.InterBrokerAddress(1);
  {
    // Bytes that are not HTTP/2 at all.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(target.rfind(':') + 1))));
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string garbage(64 << 10, '\x5a');
    (void)!write(fd, garbage.data(), garbage.size());
    close(fd);
  }
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto transport = internal::v1::BrokerTransport::NewStub(channel);
  auto exchange = [&](const internal::v1::ExchangeRequest& request,
                      internal::v1::ExchangeResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return transport->Exchange(&context, request, response);
  };
  internal::v1::ExchangeRequest good;
  good.set_version(1);
  good.set_cluster_id(kClusterId);
  good.set_from_node(2);
  good.set_to_node(1);
  auto* heartbeat = good.add_heartbeats();
  heartbeat->mutable_group()->set_topic_id(std::string(16, '\x07'));
  heartbeat->set_term(1);
  {
    // A group this broker does not host: reported back, nothing else.
    internal::v1::ExchangeResponse response;
    REQUIRE(exchange(good, &response).ok());
    CHECK(response.error().empty());
    CHECK(response.unknown_groups_size() == 1);
  }
  {
    internal::v1::ExchangeRequest other = good;
    other.set_cluster_id("someOtherClusterAAAAAA");
    internal::v1::ExchangeResponse response;
    REQUIRE(exchange(other, &response).ok());
    CHECK_THAT(response.error(), Catch::Contains("is not this cluster's"));
  }
  {
    internal::v1::ExchangeRequest stranger = good;
    stranger.set_from_node(77);
    internal::v1::ExchangeResponse response;
    REQUIRE(exchange(stranger, &response).ok());
    CHECK_THAT(response.error(), Catch::Contains("node 77 is not a broker of this cluster"));
  }
  {
    // Over the listener's message limit: refused before it is handled.
    internal::v1::ExchangeRequest huge = good;
    huge.add_messages()->set_context(std::string(9 << 20, 'x'));
    internal::v1::ExchangeResponse response;
    CHECK(exchange(huge, &response).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  auto controller = internal::v1::Controller::NewStub(channel);
  {
    internal::v1::RegisterBrokerRequest request;
    request.set_version(9);
    request.set_cluster_id(kClusterId);
    internal::v1::RegisterBrokerResponse response;
    grpc::ClientContext context;
    REQUIRE(controller->RegisterBroker(&context, request, &response).ok());
    CHECK(response.error().code() == 12);  // INVALID_REQUEST
  }
  {
    internal::v1::TopicChangeRequest request;
    request.set_version(1);
    request.set_cluster_id(kClusterId);
    internal::v1::TopicChangeResponse response;
    grpc::ClientContext context;
    REQUIRE(controller->ChangeTopic(&context, request, &response).ok());
    CHECK(response.error().code() == 12);
    CHECK_THAT(response.error().message(), Catch::Contains("unknown topic change kind"));
  }
  // The cluster is none the worse.
  CHECK(cluster.WaitReady(1, std::chrono::seconds(5)));
  CreateTopicVia(cluster, 1, "still-fine", 3);
}

}  // namespace rill::testing
