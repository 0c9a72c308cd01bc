#include "storage/log_manager.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/test_util.h"

using namespace rill;
using namespace rill::storage;
using rill::testing::MakeBatch;
using rill::testing::TempDir;

TEST_CASE("log manager: logs by name, reopened from disk, deleted with their files", "[storage]") {
  TempDir tmp;
  {
    auto manager = LogManager::Open(LogManagerOptions{tmp.path(), FileSystem::Default(), {}, 0});
    REQUIRE(manager.ok());
    auto log = (*manager)->GetOrCreate("orders-0", {});
    REQUIRE(log.ok());
    REQUIRE((*log)->AppendAndWait(MakeBatch(0, 3, 10, testing::NowMs())).ok());
    CHECK((*manager)->GetOrCreate("orders-0", {}).value() == *log);
    CHECK((*manager)->Get("orders-0") == *log);
    CHECK((*manager)->Get("missing-0") == nullptr);
    REQUIRE((*manager)->GetOrCreate("payments-2", {}).ok());

    for (const char* bad : {"", ".", "..", "a/b", "x y", "../escape"}) {
      INFO(bad);
      CHECK(absl::IsInvalidArgument((*manager)->GetOrCreate(bad, {}).status()));
    }
    CHECK(absl::IsInvalidArgument((*manager)->GetOrCreate(std::string(256, 'a'), {}).status()));
  }
  auto manager = LogManager::Open(LogManagerOptions{tmp.path(), FileSystem::Default(), {}, 0});
  REQUIRE(manager.ok());
  auto on_disk = (*manager)->ListOnDisk();
  REQUIRE(on_disk.ok());
  CHECK(*on_disk == std::vector<std::string>{"orders-0", "payments-2"});
  auto log = (*manager)->GetOrCreate("orders-0", {});
  REQUIRE(log.ok());
  CHECK((*log)->next_offset() == Offset(3));

  REQUIRE((*manager)->Delete("orders-0").ok());
  CHECK(absl::IsFailedPrecondition((*log)->AppendAndWait(MakeBatch(0, 1, 1, 0)).status()));
  CHECK(*(*manager)->ListOnDisk() == std::vector<std::string>{"payments-2"});
  CHECK(absl::IsNotFound((*manager)->Delete("orders-0")));
}

TEST_CASE("log manager: the background pass enforces retention", "[storage]") {
  TempDir tmp;
  auto manager = LogManager::Open(LogManagerOptions{tmp.path(), FileSystem::Default(), {}, 10});
  REQUIRE(manager.ok());
  LogConfig config;
  config.segment_bytes = 2048;
  config.retention_bytes = 0;
  auto log = (*manager)->GetOrCreate("events-0", config);
  REQUIRE(log.ok());
  for (int i = 0; i < 30; ++i) {
    REQUIRE((*log)->AppendAndWait(MakeBatch(0, 2, 100, testing::NowMs())).ok());
  }
  // The background pass may already be deleting segments; what matters is where it ends:
  // one (active) segment left and the start offset moved past deleted data.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*log)->stats().segment_count > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK((*log)->stats().segment_count == 1);
  CHECK((*log)->start_offset() > Offset(0));
  CHECK((*log)->next_offset() == Offset(60));
}

namespace {

LogManagerOptions NoBackground(const std::string& dir) {
  LogManagerOptions options;
  options.data_dir = dir;
  options.retention_check_interval_ms = 0;
  options.recovery_point_interval_ms = 0;
  return options;
}

RecoveryPoints ReadPoints(const std::string& data_dir) {
  const std::string path = data_dir + "/" + kRecoveryPointsFileName;
  auto bytes = ReadWholeFile(FileSystem::Default(), path, kMaxRecoveryPointsFileBytes);
  REQUIRE(bytes.ok());
  auto points = DecodeRecoveryPoints(*bytes, path);
  REQUIRE(points.ok());
  return *points;
}

}  // namespace

TEST_CASE("recovery points: encoded, decoded, and refused when damaged", "[storage]") {
  const RecoveryPoints points = {{"orders-0", 120}, {"orders-1", 0}, {"__consumer_offsets-7", 9}};
  const std::string bytes = EncodeRecoveryPoints(points);
  auto decoded = DecodeRecoveryPoints(bytes, "f");
  REQUIRE(decoded.ok());
  CHECK(*decoded == points);
  CHECK(DecodeRecoveryPoints(EncodeRecoveryPoints({}), "f").value().empty());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x04;
    CHECK(absl::IsDataLoss(DecodeRecoveryPoints(bad, "f").status()));
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK(absl::IsDataLoss(DecodeRecoveryPoints(bytes.substr(0, n), "f").status()));
  }
}

TEST_CASE(
    "log manager: after a crash, acknowledged records below the recovery point are never "
    "cut",
    "[storage]") {
  TempDir tmp;
  std::vector<uint64_t> positions;
  {
    auto manager = LogManager::Open(NoBackground(tmp.path()));
    REQUIRE(manager.ok());
    auto log = (*manager)->GetOrCreate("orders-0", {});
    REQUIRE(log.ok());
    uint64_t position = 0;
    for (int i = 0; i < 6; ++i) {
      const std::string batch = MakeBatch(3 * i, 3, 30, testing::NowMs());
      positions.push_back(position);
      position += batch.size();
      REQUIRE((*log)->AppendAndWait(batch).ok());
    }
    REQUIRE((*manager)->CheckpointRecoveryPoints().ok());
    CHECK(ReadPoints(tmp.path()).at("orders-0") == 18);
  }
  // As if the broker had crashed: no clean-shutdown marker, and a byte of batch 4 damaged.
  std::filesystem::remove(tmp.path() + "/orders-0/" + kCleanShutdownFileName);
  testing::FlipBit(tmp.path() + "/orders-0/" + SegmentFileName(0, "log"), positions[4] + 70);
  {
    auto manager = LogManager::Open(NoBackground(tmp.path()));
    REQUIRE(manager.ok());
    auto log = (*manager)->GetOrCreate("orders-0", {});
    CHECK(absl::IsDataLoss(log.status()));
    // The point of a log that could not be opened survives the next checkpoint.
    REQUIRE((*manager)->CheckpointRecoveryPoints().ok());
    CHECK(ReadPoints(tmp.path()).at("orders-0") == 18);
  }
  // Without recorded points (the file damaged), recovery cuts the tail as before, and says so.
  testing::FlipBit(tmp.path() + "/" + kRecoveryPointsFileName, 20);
  auto manager = LogManager::Open(NoBackground(tmp.path()));
  REQUIRE(manager.ok());
  auto log = (*manager)->GetOrCreate("orders-0", {});
  REQUIRE(log.ok());
  CHECK((*log)->next_offset() == Offset(12));
}

TEST_CASE("log manager: a deleted log's recovery point goes with it", "[storage]") {
  TempDir tmp;
  auto manager = LogManager::Open(NoBackground(tmp.path()));
  REQUIRE(manager.ok());
  auto log = (*manager)->GetOrCreate("t-0", {});
  REQUIRE(log.ok());
  REQUIRE((*log)->AppendAndWait(MakeBatch(0, 5, 10, testing::NowMs())).ok());
  REQUIRE((*manager)->CheckpointRecoveryPoints().ok());
  CHECK(ReadPoints(tmp.path()).count("t-0") == 1);
  REQUIRE((*manager)->Delete("t-0").ok());
  CHECK(ReadPoints(tmp.path()).count("t-0") == 0);
  // Recreated under the same name it starts from nothing, crash or not.
  auto again = (*manager)->GetOrCreate("t-0", {});
  REQUIRE(again.ok());
  CHECK((*again)->next_offset() == Offset(0));
}

TEST_CASE("log manager: the background thread checkpoints recovery points", "[storage]") {
  TempDir tmp;
  LogManagerOptions options = NoBackground(tmp.path());
  options.recovery_point_interval_ms = 20;
  auto manager = LogManager::Open(options);
  REQUIRE(manager.ok());
  auto log = (*manager)->GetOrCreate("t-0", {});
  REQUIRE(log.ok());
  REQUIRE((*log)->AppendAndWait(MakeBatch(0, 7, 10, testing::NowMs())).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int64_t seen = -1;
  while (seen != 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::filesystem::exists(tmp.path() + "/" + kRecoveryPointsFileName)) {
      auto points = ReadPoints(tmp.path());
      seen = points.count("t-0") ? points.at("t-0") : -1;
    }
  }
  CHECK(seen == 7);
  // Nothing changed since: the file is not written again (each write renames a new inode in).
  const std::string path = tmp.path() + "/" + kRecoveryPointsFileName;
  struct stat before {};
  REQUIRE(stat(path.c_str(), &before) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  struct stat after {};
  REQUIRE(stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
}

TEST_CASE("log manager: a closed log is renamed with its recovery point", "[storage]") {
  TempDir tmp;
  auto options = LogManagerOptions{tmp.path(), FileSystem::Default(), {}, 0, 0};
  {
    auto manager = LogManager::Open(options);
    REQUIRE(manager.ok());
    auto log = (*manager)->GetOrCreate("old-0", {});
    REQUIRE(log.ok());
    REQUIRE((*log)->AppendAndWait(MakeBatch(0, 3, 10, testing::NowMs())).ok());
    CHECK(absl::IsFailedPrecondition((*manager)->Rename("old-0", "new-0")));
    REQUIRE((*manager)->Close().ok());
  }
  auto manager = LogManager::Open(options);
  REQUIRE(manager.ok());
  REQUIRE((*manager)->GetOrCreate("other-0", {}).ok());
  CHECK(absl::IsNotFound((*manager)->Rename("missing-0", "new-0")));
  CHECK(absl::IsFailedPrecondition((*manager)->Rename("old-0", "other-0")));
  std::filesystem::create_directories(tmp.path() + "/taken-0");
  CHECK(absl::IsAlreadyExists((*manager)->Rename("old-0", "taken-0")));
  std::filesystem::remove(tmp.path() + "/taken-0");
  CHECK(absl::IsInvalidArgument((*manager)->Rename("old-0", "../x")));
  REQUIRE((*manager)->Rename("old-0", "new-0").ok());
  CHECK(*(*manager)->ListOnDisk() == std::vector<std::string>{"new-0", "other-0"});
  auto points = ReadWholeFile(FileSystem::Default(), tmp.path() + "/recovery-points", 1 << 20);
  REQUIRE(points.ok());
  auto decoded = DecodeRecoveryPoints(*points, "recovery-points");
  REQUIRE(decoded.ok());
  CHECK(decoded->contains("new-0"));
  CHECK_FALSE(decoded->contains("old-0"));
  CHECK(decoded->at("new-0") == 3);
  auto log = (*manager)->GetOrCreate("new-0", {});
  REQUIRE(log.ok());
  CHECK((*log)->next_offset() == Offset(3));
}
