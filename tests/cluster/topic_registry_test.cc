#include "cluster/topic_registry.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "storage/log_manager.h"
#include "storage/meta_store.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using testing::MakeBatch;
using testing::TempDir;

// The partition once its Raft group (one voter) serves.
std::shared_ptr<Partition> Serving(TopicRegistry& topics, const std::string& topic, int p) {
  auto partition = topics.GetPartition(topic, p);
  REQUIRE(partition.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(*partition)->state().serving && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE((*partition)->state().serving);
  return *partition;
}

struct Stores {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread io_thread{[this] { io.run(); }};
  rpc::Transport transport{rpc::TransportOptions{"test-cluster", NodeId(1)}};
  std::unique_ptr<storage::MetaStore> meta;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<TopicRegistry> topics;

  explicit Stores(const std::string& dir) {
    meta = storage::MetaStore::Open(dir + "/meta").value();
    logs = storage::LogManager::Open(
               storage::LogManagerOptions{dir + "/logs", storage::FileSystem::Default(), {}, 0, 0})
               .value();
    ReplicaContext replication;
    replication.self = NodeId(1);
    replication.meta = meta.get();
    replication.transport = &transport;
    replication.io = &io;
    topics = std::make_unique<TopicRegistry>(meta.get(), logs.get(), storage::LogConfig{},
                                             TopicLimits{}, replication, nullptr);
    REQUIRE(topics->Load().ok());
  }
  ~Stores() {
    topics.reset();
    work.reset();
    io_thread.join();
  }
};

TEST_CASE(
    "topic registry: a topic stored before topic ids gets one, and its logs move to "
    "directories named with it",
    "[broker]") {
  TempDir tmp;
  {
    // The layout of an earlier broker: a record without an id, logs named "<topic>-<p>".
    auto meta = storage::MetaStore::Open(tmp.path() + "/meta").value();
    v1::TopicRecord old;
    old.set_name("orders");
    old.set_partitions(2);
    old.set_replication_factor(1);
    REQUIRE(meta->Put("topics/orders", old.SerializeAsString()).ok());
    auto logs = storage::LogManager::Open(
                    storage::LogManagerOptions{
                        tmp.path() + "/logs", storage::FileSystem::Default(), {}, 0, 0})
                    .value();
    for (int p = 0; p < 2; ++p) {
      auto log = logs->GetOrCreate("orders-" + std::to_string(p), {}).value();
      REQUIRE(log->AppendAndWait(MakeBatch(0, 3 + p, 10, testing::NowMs())).ok());
    }
  }
  std::string id;
  {
    Stores stores(tmp.path());
    auto record = stores.topics->Get("orders");
    REQUIRE(record.has_value());
    auto topic_id = TopicId::FromBytes(record->topic_id());
    REQUIRE(topic_id.has_value());
    id = topic_id->ToString();
    for (int p = 0; p < 2; ++p) {
      CHECK_FALSE(std::filesystem::exists(tmp.path() + "/logs/orders-" + std::to_string(p)));
      CHECK(testing::PartitionDir(tmp.path() + "/logs", "orders", p) ==
            tmp.path() + "/logs/orders-" + std::to_string(p) + "-" + id);
      // Its records, and the no-op of the leader it elected (one more offset).
      CHECK(Serving(*stores.topics, "orders", p)->high_watermark() == Offset(3 + p + 1));
    }
  }
  // The id is kept: a second start changes nothing.
  Stores again(tmp.path());
  CHECK(TopicId::FromBytes(again.topics->Get("orders")->topic_id())->ToString() == id);
  CHECK(Serving(*again.topics, "orders", 1)->high_watermark() == Offset(6));
}

TEST_CASE("topic registry: a migration cut short after the id was stored is finished with it",
          "[broker]") {
  TempDir tmp;
  const TopicId id = TopicId::Random();
  {
    auto meta = storage::MetaStore::Open(tmp.path() + "/meta").value();
    v1::TopicRecord stored;
    stored.set_name("t");
    stored.set_partitions(2);
    stored.set_replication_factor(1);
    stored.set_topic_id(id.ToBytes());
    REQUIRE(meta->Put("topics/t", stored.SerializeAsString()).ok());
    auto logs = storage::LogManager::Open(
                    storage::LogManagerOptions{
                        tmp.path() + "/logs", storage::FileSystem::Default(), {}, 0, 0})
                    .value();
    // Partition 0 was moved already; partition 1 was not.
    for (const std::string& name : {"t-0-" + id.ToString(), std::string("t-1")}) {
      auto log = logs->GetOrCreate(name, {}).value();
      REQUIRE(log->AppendAndWait(MakeBatch(0, 2, 10, testing::NowMs())).ok());
    }
  }
  Stores stores(tmp.path());
  for (int p = 0; p < 2; ++p) {
    CHECK(testing::PartitionDir(tmp.path() + "/logs", "t", p) ==
          tmp.path() + "/logs/t-" + std::to_string(p) + "-" + id.ToString());
    CHECK(Serving(*stores.topics, "t", p)->high_watermark() == Offset(3));
  }
}

}  // namespace
}  // namespace rill::cluster
