#include "cluster/raft_group.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "rpc/transport_service.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using raft::Index;
using raft::Role;

constexpr char kCluster[] = "raft-group-test";
const rpc::GroupKey kGroup{TopicId(5, 6), PartitionId(0)};

// One broker's share of a replicated partition: its disk, its transport both ways, its group.
struct Member : rpc::MessageHandler {
  NodeId id;
  testing::TempDir dir;
  storage::Flusher flusher;
  std::unique_ptr<storage::MetaStore> meta;
  std::unique_ptr<rpc::Transport> transport;
  std::unique_ptr<rpc::TransportService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::shared_ptr<RaftGroup> group;
  absl::Mutex mu;
  std::vector<raft::Entry> applied ABSL_GUARDED_BY(mu);

  Member(NodeId node, asio::io_context* io) : id(node) {
    meta = storage::MetaStore::Open(dir.Sub("meta")).value();
    auto log =
        storage::Log::Open(dir.Sub("log"), storage::LogConfig{},
                           storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
    REQUIRE(log.ok());
    transport = std::make_unique<rpc::Transport>(rpc::TransportOptions{kCluster, id});
    service = std::make_unique<rpc::TransportService>(
        rpc::TransportServiceOptions{kCluster, id,
                                     [](NodeId n) { return n.value() >= 1 && n.value() <= 3; },
                                     10000, rpc::CodecLimits{}},
        this);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    REQUIRE(server != nullptr);
    raft::RaftConfig config;
    config.id = id;
    config.bootstrap.voters = {NodeId(1), NodeId(2), NodeId(3)};
    config.election_ticks = 10;
    config.seed = static_cast<uint64_t>(id.value());
    RaftGroupCallbacks callbacks;
    callbacks.apply = [this](const std::vector<raft::Entry>& committed) {
      absl::MutexLock lock(&mu);
      applied.insert(applied.end(), committed.begin(), committed.end());
    };
    auto opened =
        RaftGroup::Open(kGroup, config, std::shared_ptr<storage::Log>(std::move(*log)), meta.get(),
                        transport.get(), io, std::move(callbacks));
    REQUIRE(opened.ok());
    group = *opened;
  }
  ~Member() override { Stop(); }

  void Stop() {
    if (!group) return;
    group->Close();
    server->Shutdown();
    transport.reset();
    group.reset();
  }

  bool Deliver(const rpc::GroupKey& key, raft::Message message) override {
    if (key != kGroup || !group) return false;
    group->Deliver(std::move(message));
    return true;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  std::vector<raft::Entry> Applied() {
    absl::MutexLock lock(&mu);
    return applied;
  }
};

// The entries with the batch header fields the log stamps cleared (base offset, partition
// leader epoch): an entry handed out before its write reached the log still has the bytes it
// was proposed with, one read back from the log has them stamped. The records are the same.
std::vector<raft::Entry> Unstamped(std::vector<raft::Entry> entries) {
  for (auto& e : entries) {
    if (e.data.size() < 16) continue;
    std::fill(e.data.begin(), e.data.begin() + 8, '\0');
    std::fill(e.data.begin() + 12, e.data.begin() + 16, '\0');
  }
  return entries;
}

template <typename F>
bool WaitUntil(F condition, std::chrono::seconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST_CASE("raft group: three brokers elect a leader, replicate durably, and carry on without it",
          "[cluster]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });

  std::vector<std::unique_ptr<Member>> members;
  for (int n = 1; n <= 3; ++n) members.push_back(std::make_unique<Member>(NodeId(n), &io));
  for (auto& m : members) {
    for (auto& peer : members) {
      if (peer != m) m->transport->SetPeer(peer->id, peer->address());
    }
  }
  std::atomic<bool> ticking{true};
  std::thread ticker([&] {
    while (ticking) {
      for (auto& m : members) {
        if (m->group) m->group->Tick();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  auto leader = [&]() -> Member* {
    for (auto& m : members) {
      if (m->group && m->group->status().role == Role::kLeader) return m.get();
    }
    return nullptr;
  };
  auto live_commits_reach = [&](Index index) {
    for (auto& m : members) {
      if (m->group && m->group->status().commit < index) return false;
    }
    return true;
  };
  auto propose = [&](Member* at, int count) {
    Index last;
    for (int i = 0; i < count; ++i) {
      std::promise<absl::StatusOr<Index>> proposed;
      at->group->Propose(testing::MakeBatch(0, 3, 20, testing::NowMs()), 3,
                         [&](absl::StatusOr<Index> index) { proposed.set_value(index); });
      auto index = proposed.get_future().get();
      REQUIRE(index.ok());
      last = *index;
    }
    return last;
  };

  REQUIRE(WaitUntil([&] { return leader() != nullptr; }));
  Member* first = leader();
  const Index written = propose(first, 20);
  REQUIRE(WaitUntil([&] { return live_commits_reach(written); }));
  // Every replica holds the same entries: the same batches at the same offsets and terms.
  auto entries = first->group->log().EntriesAfter(Index(0), written, 1000, size_t{1} << 30);
  CHECK(entries.size() == 21);  // the leader's no-op and 20 batches
  for (auto& m : members) {
    CHECK(m->group->log().EntriesAfter(Index(0), written, 1000, size_t{1} << 30) == entries);
    CHECK(WaitUntil([&] { return m->Applied().size() == entries.size(); }));
  }
  // A follower refuses proposals, naming the leader.
  for (auto& m : members) {
    if (m.get() == first) continue;
    std::promise<absl::StatusOr<Index>> refused;
    m->group->Propose("x", 1, [&](absl::StatusOr<Index> index) { refused.set_value(index); });
    CHECK(absl::IsFailedPrecondition(refused.get_future().get().status()));
  }

  // The leader goes away; the two others elect one of themselves and commit without it.
  const raft::Term old_term = first->group->status().term;
  first->Stop();
  REQUIRE(WaitUntil([&] {
    Member* now = leader();
    return now != nullptr && now != first && now->group->status().term > old_term;
  }));
  const Index more = propose(leader(), 5);
  REQUIRE(WaitUntil([&] { return live_commits_reach(more); }));
  CHECK(WaitUntil([&] {
    for (auto& m : members) {
      if (m.get() != first && m->Applied().size() < 27) return false;
    }
    return true;
  }));
  // The survivors applied the same entries in the same order, the first 21 as before.
  std::vector<std::vector<raft::Entry>> applied;
  for (auto& m : members) {
    if (m.get() != first) applied.push_back(m->Applied());
  }
  REQUIRE(applied.size() == 2);
  CHECK(Unstamped(applied[0]) == Unstamped(applied[1]));
  CHECK(Unstamped({applied[0].begin(), applied[0].begin() + 21}) == Unstamped(entries));

  ticking = false;
  ticker.join();
  for (auto& m : members) m->Stop();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
}

TEST_CASE("raft group: the hard state survives a restart and refuses damage", "[cluster]") {
  raft::HardState state{raft::Term(7), NodeId(2), Index(120)};
  auto decoded = DecodeHardState(EncodeHardState(state));
  REQUIRE(decoded.ok());
  CHECK(*decoded == state);
  std::string bad = EncodeHardState(state);
  bad[0] = 9;
  CHECK(absl::IsDataLoss(DecodeHardState(bad).status()));
  CHECK(absl::IsDataLoss(DecodeHardState(bad.substr(0, 5)).status()));
}

}  // namespace
}  // namespace rill::cluster
