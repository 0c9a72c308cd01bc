// The broker over damaged or exhausted storage: corrupt partitions, creates that fail part way,
// descriptors running out. Real rill-broker processes on random loopback ports.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "rill/admin.h"
#include "storage/segment.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_util.h"

using namespace rill;
using rill::testing::BrokerProcess;
using rill::testing::Client;
using rill::testing::CreateTopic;
using rill::testing::HighWatermark;
using rill::testing::RawProduce;
using rill::testing::RawStub;
using rill::testing::TempDir;

namespace {

std::string Batch(int count) { return testing::MakeBatch(0, count, 100, testing::NowMs()); }

}  // namespace

TEST_CASE(
    "storage faults: acknowledged records hit by corruption after a crash are reported, "
    "not cut, and only their partition goes offline",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "t", 3);
  auto stub = RawStub(broker);
  for (int i = 0; i < 20; ++i) {
    for (int p = 0; p < 3; ++p) {
      REQUIRE(RawProduce(stub.get(), "t", p, Batch(6)).partitions(0).error().code() == v1::NONE);
    }
  }
  // Every record is acknowledged; the recovery points are checkpointed every second.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  broker.Kill();
  const std::string t1_dir = testing::PartitionDir(tmp.path() + "/logs", "t", 1);
  REQUIRE_FALSE(t1_dir.empty());
  const std::string segment = t1_dir + "/" + storage::SegmentFileName(0, "log");
  const auto size = std::filesystem::file_size(segment);
  testing::FlipBit(segment, size / 2, 4);

  broker.Start();
  stub = RawStub(broker);
  // The damaged partition answers with why; nothing of it was cut.
  auto refused = RawProduce(stub.get(), "t", 1, Batch(1)).partitions(0);
  CHECK(refused.error().code() == v1::STORAGE_ERROR);
  CHECK_THAT(refused.error().message(), Catch::Contains("t-1 is offline"));
  CHECK_THAT(refused.error().message(), Catch::Contains("recovery point 120"));
  CHECK(std::filesystem::file_size(segment) == size);
  CHECK_THAT(broker.log(), Catch::Contains("partition t-1 is offline"));

  // The others serve, before and after their new records (after the no-op their restarted
  // leader wrote at offset 120).
  for (int p : {0, 2}) {
    CHECK(HighWatermark(stub.get(), "t", p) == 121);
    auto ok = RawProduce(stub.get(), "t", p, Batch(1)).partitions(0);
    CHECK(ok.error().code() == v1::NONE);
    CHECK(ok.base_offset() == 121);
  }
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  auto described = (*admin)->DescribeTopic("t");
  REQUIRE(described.ok());
  REQUIRE(described->partitions.size() == 3);
  CHECK(described->partitions[1].leader == -1);
  CHECK(ErrorCodeOf(described->partitions[1].error) == ErrorCode::kStorageError);
  CHECK(described->partitions[0].error.ok());
  auto cluster = (*admin)->DescribeCluster();
  REQUIRE(cluster.ok());
  REQUIRE(cluster->offline_partitions.size() == 1);
  CHECK(cluster->offline_partitions[0].topic == "t");
  CHECK(cluster->offline_partitions[0].partition == 1);
  const std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics, Catch::Contains("rill_partitions_offline 1"));
  CHECK_THAT(metrics, Catch::Contains("rill_partition_offline{partition=\"1\",topic=\"t\"} 1"));

  // Deleting the topic removes the damaged partition too.
  REQUIRE((*admin)->DeleteTopic("t").ok());
  CHECK_FALSE(std::filesystem::exists(t1_dir));
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE(
    "storage faults: a new partition whose directory cannot be made is offline while the others "
    "serve, and a recreated topic gets directories of its own",
    "[integration]") {
  TempDir tmp;
  // A directory of no topic (a create cut short by a crash) is removed at start.
  std::filesystem::create_directories(tmp.path() + "/logs/ghost-0");
  BrokerProcess broker(tmp.path());
  CHECK_FALSE(std::filesystem::exists(tmp.path() + "/logs/ghost-0"));
  CHECK_THAT(broker.log(), Catch::Contains("removing log directory ghost-0"));
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());

  // Growing a topic is decided by the controller and committed first; each broker then opens
  // what it hosts. Partition 5's directory cannot be made, as a file stands in its way: it is
  // offline, with the reason, while partition 4 serves; once the way is clear it opens at the
  // next start. (A create takes the same path; its directories carry an id not known before it
  // runs, so nothing can be put in their way.)
  REQUIRE((*admin)->CreateTopic(NewTopic{"x", 4, 1, {}}).ok());
  auto created = (*admin)->DescribeTopic("x");
  REQUIRE(created.ok());
  REQUIRE(created->topic_id.size() == 32);
  const std::string logs = tmp.path() + "/logs/";
  { std::ofstream(logs + "x-5-" + created->topic_id) << "in the way"; }
  REQUIRE((*admin)->CreatePartitions("x", 6).ok());
  auto described = (*admin)->DescribeTopic("x");
  REQUIRE(described.ok());
  REQUIRE(described->partitions.size() == 6);
  CHECK(described->partitions[4].error.ok());
  CHECK(ErrorCodeOf(described->partitions[5].error) == ErrorCode::kStorageError);
  std::filesystem::remove(logs + "x-5-" + created->topic_id);
  broker.Restart();
  admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  described = (*admin)->DescribeTopic("x");
  REQUIRE(described.ok());
  CHECK(described->partitions[5].error.ok());

  // A topic deleted and created again gets a new id, and directories of its own.
  REQUIRE((*admin)->DeleteTopic("x").ok());
  CHECK(testing::PartitionDirs(logs, "x", 0).empty());
  REQUIRE((*admin)->CreateTopic(NewTopic{"x", 1, 1, {}}).ok());
  auto recreated = (*admin)->DescribeTopic("x");
  REQUIRE(recreated.ok());
  CHECK(recreated->topic_id != created->topic_id);
  CHECK(testing::PartitionDir(logs, "x", 0) == logs + "x-0-" + recreated->topic_id);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("storage faults: creates are budgeted against the open-files limit and say so",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  // As if the broker ran under `ulimit -n 1500`: with 1,024 descriptors kept in reserve (a
  // quarter of its starting limit, at most 1,024), about 400 are spare.
  rlimit low{1500, 1500};
  REQUIRE(prlimit(broker.pid(), RLIMIT_NOFILE, &low, nullptr) == 0);
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  auto refused = (*admin)->CreateTopic(NewTopic{"big", 400, 1, {}});
  CHECK(ErrorCodeOf(refused) == ErrorCode::kInvalidPartitions);
  CHECK_THAT(std::string(refused.message()), Catch::Contains("1200 file descriptors"));
  CHECK_THAT(std::string(refused.message()), Catch::Contains("ulimit -n"));
  CHECK(testing::PartitionDirs(tmp.path() + "/logs", "big", 0).empty());
  // What fits is still created, and the broker keeps serving.
  REQUIRE((*admin)->CreateTopic(NewTopic{"small", 50, 1, {}}).ok());
  auto stub = RawStub(broker);
  CHECK(RawProduce(stub.get(), "small", 49, Batch(2)).partitions(0).error().code() == v1::NONE);
  REQUIRE(broker.Stop() == 0);
}
