#include "storage/log_manager.h"

#include <catch2/catch.hpp>
#include <chrono>
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
