#include "storage/meta_store.h"

#include <catch2/catch.hpp>

#include "tests/support/test_util.h"

using namespace rill::storage;
using rill::testing::TempDir;

TEST_CASE("meta store: put, get, delete, atomic batches and prefix scans survive a reopen",
          "[storage]") {
  TempDir tmp;
  {
    auto store = MetaStore::Open(tmp.Sub("meta"));
    REQUIRE(store.ok());
    REQUIRE((*store)->Put("raft/1/term", "7").ok());
    MetaStore::Batch batch;
    batch.Put("offsets/g/t-0", "100");
    batch.Put("offsets/g/t-1", "200");
    batch.Put("offsets/h/t-0", "5");
    batch.Delete("raft/1/term");
    REQUIRE((*store)->Write(batch).ok());
  }
  auto store = MetaStore::Open(tmp.Sub("meta"));
  REQUIRE(store.ok());
  auto term = (*store)->Get("raft/1/term");
  REQUIRE(term.ok());
  CHECK_FALSE(term->has_value());
  auto scan = (*store)->Scan("offsets/g/", 100);
  REQUIRE(scan.ok());
  REQUIRE(scan->size() == 2);
  CHECK((*scan)[0] == std::pair<std::string, std::string>("offsets/g/t-0", "100"));
  CHECK((*scan)[1].second == "200");
  CHECK((*store)->Scan("offsets/", 1)->size() == 1);
  REQUIRE((*store)->Delete("offsets/g/t-0").ok());
  CHECK_FALSE((*store)->Get("offsets/g/t-0")->has_value());
}

TEST_CASE("meta store: oversized keys and values are refused", "[storage]") {
  TempDir tmp;
  auto store = MetaStore::Open(tmp.Sub("meta"));
  REQUIRE(store.ok());
  CHECK(absl::IsInvalidArgument((*store)->Put("", "v")));
  CHECK(absl::IsInvalidArgument((*store)->Put(std::string(kMaxMetaKeyBytes + 1, 'k'), "v")));
  CHECK(absl::IsResourceExhausted((*store)->Put("k", std::string(kMaxMetaValueBytes + 1, 'v'))));
  MetaStore::Batch batch;
  batch.Put("ok", "v");
  batch.Put("", "v");
  CHECK(absl::IsInvalidArgument((*store)->Write(batch)));
  CHECK_FALSE((*store)->Get("ok")->has_value());  // nothing of a refused batch is applied
}

TEST_CASE("meta store: a path that cannot hold a database is an error", "[storage]") {
  auto store = MetaStore::Open("/proc/rill-cannot-exist/meta");
  CHECK_FALSE(store.ok());
}
