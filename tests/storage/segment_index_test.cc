#include "storage/segment_index.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/test_util.h"

using namespace rill::storage;
using rill::testing::TempDir;

TEST_CASE("segment index: entries persist and lookups find the nearest entry", "[storage]") {
  TempDir tmp;
  FileSystem* fs = FileSystem::Default();
  const std::string path = tmp.Sub("00000000000000000100.index");
  {
    auto index = OffsetIndex::Create(fs, path, 100);
    REQUIRE(index.ok());
    for (uint32_t i = 1; i <= 10; ++i) REQUIRE(index->Append({i * 10, i * 1000}).ok());
  }
  auto index = OffsetIndex::Load(fs, path, 100, 20000);
  REQUIRE(index.ok());
  REQUIRE(index->entries().size() == 10);
  CHECK_FALSE(LookupOffset(*index, 5).has_value());
  CHECK(LookupOffset(*index, 10)->position == 1000);
  CHECK(LookupOffset(*index, 55)->position == 5000);
  CHECK(LookupOffset(*index, 1000)->position == 10000);

  REQUIRE(index->TruncateEntries(4).ok());
  auto reloaded = OffsetIndex::Load(fs, path, 100, 20000);
  REQUIRE(reloaded.ok());
  CHECK(reloaded->entries().size() == 4);

  SECTION("an index for another base offset is refused") {
    CHECK(absl::IsDataLoss(OffsetIndex::Load(fs, path, 200, 20000).status()));
  }
  SECTION("entries past the end of the log are refused") {
    CHECK(absl::IsDataLoss(OffsetIndex::Load(fs, path, 100, 3000).status()));
  }
  SECTION("a torn entry is refused") {
    std::ofstream(path, std::ios::binary | std::ios::app) << "xyz";
    CHECK(absl::IsDataLoss(OffsetIndex::Load(fs, path, 100, 20000).status()));
  }
}

TEST_CASE("time index: lookup finds the last entry strictly before a timestamp", "[storage]") {
  TempDir tmp;
  auto index = TimeIndex::Create(FileSystem::Default(), tmp.Sub("t.timeindex"), 0);
  REQUIRE(index.ok());
  REQUIRE(index->Append({1000, 5}).ok());
  REQUIRE(index->Append({2000, 9}).ok());
  CHECK_FALSE(LookupTimestampBefore(*index, 1000).has_value());
  CHECK(LookupTimestampBefore(*index, 1001)->relative_offset == 5);
  CHECK(LookupTimestampBefore(*index, 2000)->relative_offset == 5);
  CHECK(LookupTimestampBefore(*index, 5000)->relative_offset == 9);
  auto loaded = TimeIndex::Load(FileSystem::Default(), tmp.Sub("t.timeindex"), 0, 0);
  REQUIRE(loaded.ok());
  CHECK(loaded->entries().size() == 2);
}
