#include "rpc/transport.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "rpc/codec.h"
#include "rpc/transport_service.h"

namespace rill::rpc {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Message;
using raft::MessageType;
using raft::Term;

constexpr char kCluster[] = "c1";
const GroupKey kGroupA{TopicId(1, 2), PartitionId(0)};
const GroupKey kGroupB{TopicId(1, 2), PartitionId(7)};

Message Append(NodeId from, NodeId to, int entries) {
  Message m;
  m.type = MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = Term(3);
  m.index = Index(10);
  m.log_term = Term(2);
  m.commit = Index(8);
  for (int i = 0; i < entries; ++i) {
    m.entries.push_back(Entry{Term(3), Index(11 + i),
                              i % 2 ? EntryType::kConfChange : EntryType::kNormal,
                              std::string(100, static_cast<char>('a' + i))});
  }
  return m;
}

Message Heartbeat(NodeId from, NodeId to) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = Term(5);
  m.commit = Index(42);
  return m;
}

bool SameMessage(const Message& a, const Message& b) {
  return a.type == b.type && a.from == b.from && a.to == b.to && a.term == b.term &&
         a.index == b.index && a.log_term == b.log_term && a.entries == b.entries &&
         a.commit == b.commit && a.reject == b.reject && a.reject_hint == b.reject_hint &&
         a.transfer == b.transfer && a.context == b.context && a.snapshot.meta == b.snapshot.meta &&
         a.snapshot.data == b.snapshot.data;
}

TEST_CASE("rpc codec: every message survives the wire, heartbeats in their compact form", "[rpc]") {
  const NodeId from(1), to(2);
  std::vector<Message> all;
  for (int t = 0; t <= static_cast<int>(MessageType::kReadIndexResponse); ++t) {
    Message m = Append(from, to, 2);
    m.type = static_cast<MessageType>(t);
    m.reject = t % 2 == 1;
    m.reject_hint = Index(t);
    m.transfer = t == 2;
    m.context = t >= 6 ? "read-1" : "";
    if (m.type == MessageType::kSnapshot) {
      m.snapshot.meta =
          raft::SnapshotMeta{Index(50), Term(2), {{NodeId(1), NodeId(2)}, {NodeId(3)}}};
      m.snapshot.data = "image";
    }
    all.push_back(m);
  }
  for (const Message& m : all) {
    INFO("type " << static_cast<int>(m.type));
    internal::v1::RaftMessage wire;
    EncodeMessage(kGroupB, m, &wire);
    auto group = DecodeGroup(wire.group());
    REQUIRE(group.ok());
    CHECK(*group == kGroupB);
    auto back = DecodeMessage(wire, from, to, CodecLimits{});
    REQUIRE(back.ok());
    CHECK(SameMessage(*back, m));
  }
  const Message beat = Heartbeat(from, to);
  REQUIRE(IsCompactHeartbeat(beat));
  internal::v1::Heartbeat compact;
  EncodeHeartbeat(kGroupA, beat, &compact);
  CHECK(SameMessage(DecodeHeartbeat(compact, from, to), beat));
  Message with_read = beat;
  with_read.context = "r";
  CHECK_FALSE(IsCompactHeartbeat(with_read));
}

TEST_CASE("rpc codec: what a peer may not send is refused", "[rpc]") {
  internal::v1::RaftMessage wire;
  EncodeMessage(kGroupA, Append(NodeId(1), NodeId(2), 3), &wire);
  CodecLimits limits;
  SECTION("an unknown type") { wire.set_type(99); }
  SECTION("a negative term") { wire.set_term(-1); }
  SECTION("entries out of order") { wire.mutable_entries(1)->set_index(5); }
  SECTION("an unknown entry type") { wire.mutable_entries(0)->set_type(7); }
  SECTION("too many entries") { limits.entries_per_message_max = 2; }
  SECTION("a huge read context") { wire.set_context(std::string(5000, 'x')); }
  CHECK(absl::IsInvalidArgument(DecodeMessage(wire, NodeId(1), NodeId(2), limits).status()));
  internal::v1::GroupId bad_group;
  bad_group.set_topic_id("short");
  CHECK(absl::IsInvalidArgument(DecodeGroup(bad_group).status()));
}

// A broker's receiving end on a loopback port, recording what it is handed.
struct Receiver : MessageHandler {
  explicit Receiver(NodeId self, std::set<GroupKey> hosted = {kGroupA, kGroupB})
      : hosted_(std::move(hosted)),
        service_(TransportServiceOptions{kCluster, self,
                                         [](NodeId n) { return n.value() >= 1 && n.value() <= 3; },
                                         1000, CodecLimits{}},
                 this) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~Receiver() override { server_->Shutdown(); }

  bool Deliver(const GroupKey& group, Message message) override {
    absl::MutexLock lock(&mu_);
    if (!hosted_.contains(group)) return false;
    received_.emplace_back(group, std::move(message));
    return true;
  }
  std::vector<std::pair<GroupKey, Message>> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return received_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return received_;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  const std::set<GroupKey> hosted_;
  TransportService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::vector<std::pair<GroupKey, Message>> received_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE("rpc transport: messages of many groups reach the peer, batched, in order", "[rpc]") {
  Receiver peer(NodeId(2));
  Transport transport(TransportOptions{kCluster, NodeId(1)});
  transport.SetPeer(NodeId(2), peer.address());
  std::vector<std::pair<GroupKey, Message>> sent;
  for (int i = 0; i < 200; ++i) {
    const GroupKey& group = i % 2 ? kGroupA : kGroupB;
    Message m = i % 3 ? Heartbeat(NodeId(1), NodeId(2)) : Append(NodeId(1), NodeId(2), 1 + i % 4);
    m.commit = Index(i);
    sent.emplace_back(group, m);
    transport.Send(group, m);
  }
  auto received = peer.WaitFor(sent.size());
  REQUIRE(received.size() == sent.size());
  // Order holds within each kind: a request's heartbeats travel beside its full messages.
  for (bool compact : {true, false}) {
    std::vector<std::pair<GroupKey, int64_t>> want, got;
    for (auto& [g, m] : sent) {
      if (IsCompactHeartbeat(m) == compact) want.emplace_back(g, m.commit.value());
    }
    for (auto& [g, m] : received) {
      if (IsCompactHeartbeat(m) == compact) got.emplace_back(g, m.commit.value());
    }
    CHECK(got == want);
  }
  const PeerStats stats = transport.Stats(NodeId(2));
  CHECK(stats.messages_sent == sent.size());
  CHECK(stats.requests < sent.size());  // batched
  CHECK(stats.messages_dropped == 0);
}

TEST_CASE("rpc transport: a dead peer's bounded queue does not hold up a live one", "[rpc]") {
  Receiver live(NodeId(2));
  TransportOptions options{kCluster, NodeId(1)};
  options.queue_messages_max = 50;
  options.request_timeout_ms = 500;
  Transport transport(options);
  transport.SetPeer(NodeId(2), live.address());
  // Nothing listens there (a port just taken and released by a server of our own).
  std::string dead_address;
  {
    Receiver gone(NodeId(3));
    dead_address = gone.address();
  }
  transport.SetPeer(NodeId(3), dead_address);
  for (int i = 0; i < 500; ++i) transport.Send(kGroupA, Append(NodeId(1), NodeId(3), 1));
  for (int i = 0; i < 20; ++i) transport.Send(kGroupA, Heartbeat(NodeId(1), NodeId(2)));
  CHECK(live.WaitFor(20).size() == 20);
  const PeerStats dead = transport.Stats(NodeId(3));
  CHECK(dead.messages_dropped >= 400);
  CHECK(dead.queued_messages <= 50);
  // Messages for a node with no address are dropped, not queued.
  transport.Send(kGroupA, Heartbeat(NodeId(1), NodeId(9)));
  CHECK(transport.Stats(NodeId(9)).queued_messages == 0);
}

TEST_CASE(
    "rpc transport: requests from another cluster, an unknown node or with bad messages "
    "deliver nothing",
    "[rpc]") {
  Receiver peer(NodeId(2), {kGroupA});
  auto stub = internal::v1::BrokerTransport::NewStub(
      grpc::CreateChannel(peer.address(), grpc::InsecureChannelCredentials()));
  auto exchange = [&](const internal::v1::ExchangeRequest& request) {
    grpc::ClientContext context;
    internal::v1::ExchangeResponse response;
    grpc::Status status = stub->Exchange(&context, request, &response);
    REQUIRE(status.ok());
    return response;
  };
  internal::v1::ExchangeRequest good;
  good.set_version(kTransportVersion);
  good.set_cluster_id(kCluster);
  good.set_from_node(1);
  good.set_to_node(2);
  EncodeMessage(kGroupA, Append(NodeId(1), NodeId(2), 1), good.add_messages());

  std::vector<std::pair<std::string, internal::v1::ExchangeRequest>> bad;
  auto variant = [&](const std::string& name, auto change) {
    internal::v1::ExchangeRequest r = good;
    change(r);
    bad.emplace_back(name, r);
  };
  variant("cluster", [](auto& r) { r.set_cluster_id("other"); });
  variant("unknown node", [](auto& r) { r.set_from_node(77); });
  variant("itself", [](auto& r) { r.set_from_node(2); });
  variant("someone else's", [](auto& r) { r.set_to_node(3); });
  variant("version", [](auto& r) { r.set_version(9); });
  variant("bad message", [](auto& r) { r.mutable_messages(0)->set_type(42); });
  variant("bad group", [](auto& r) { r.mutable_messages(0)->mutable_group()->set_topic_id("x"); });
  variant("too many", [](auto& r) {
    for (int i = 0; i < 1001; ++i)
      EncodeHeartbeat(kGroupA, Heartbeat(NodeId(1), NodeId(2)), r.add_heartbeats());
  });
  for (const auto& [name, request] : bad) {
    INFO(name);
    CHECK_FALSE(exchange(request).error().empty());
  }
  CHECK(peer.WaitFor(0).empty());

  // A message for a group this broker does not host is reported, the others delivered.
  EncodeMessage(kGroupB, Append(NodeId(1), NodeId(2), 1), good.add_messages());
  auto answered = exchange(good);
  CHECK(answered.error().empty());
  REQUIRE(answered.unknown_groups_size() == 1);
  CHECK(*DecodeGroup(answered.unknown_groups(0)) == kGroupB);
  CHECK(peer.WaitFor(1).size() == 1);
}

}  // namespace
}  // namespace rill::rpc
