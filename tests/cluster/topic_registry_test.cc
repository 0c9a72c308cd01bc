#include "cluster/topic_registry.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "storage/log_manager.h"
#include "storage/meta_store.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using testing::MakeBatch;
using testing::TempDir;

struct Stores {
  std::unique_ptr<storage::MetaStore> meta;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<TopicRegistry> topics;

  explicit Stores(const std::string& dir) {
    meta = storage::MetaStore::Open(dir + "/meta").value();
    logs = storage::LogManager::Open(
               storage::LogManagerOptions{dir + "/logs", storage::FileSystem::Default(), {}, 0, 0})
               .value();
    topics = std::make_unique<TopicRegistry>(meta.get(), logs.get(), storage::LogConfig{},
                                             TopicLimits{});
    REQUIRE(topics->Load().ok());
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
      auto partition = stores.topics->GetPartition("orders", p);
      REQUIRE(partition.ok());
      CHECK((*partition)->high_watermark() == Offset(3 + p));
    }
  }
  // The id is kept: a second start changes nothing.
  Stores again(tmp.path());
  CHECK(TopicId::FromBytes(again.topics->Get("orders")->topic_id())->ToString() == id);
  CHECK((*again.topics->GetPartition("orders", 1))->high_watermark() == Offset(4));
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
    CHECK((*stores.topics->GetPartition("t", p))->high_watermark() == Offset(2));
  }
}

}  // namespace
}  // namespace rill::cluster
