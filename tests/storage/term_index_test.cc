#include "storage/term_index.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "storage/log.h"
#include "tests/support/fault_injection_fs.h"
#include "tests/support/test_util.h"

using namespace rill;
using namespace rill::storage;
using rill::testing::MakeBatch;
using rill::testing::TempDir;

namespace {

using Entry = TermIndex::Entry;

TEST_CASE("term index: epochs cover offsets from their start to the next epoch", "[storage]") {
  TermIndex index;
  CHECK_FALSE(index.EpochAt(0).has_value());
  CHECK(index.Observe(1, 0));
  CHECK_FALSE(index.Observe(1, 5));
  CHECK(index.Observe(3, 10));
  // An older epoch after a newer one is folded into the newer (logs from before stamping).
  CHECK_FALSE(index.Observe(2, 12));
  CHECK(index.entries() == std::vector<Entry>{{1, 0}, {3, 10}});
  CHECK(*index.EpochAt(9) == 1);
  CHECK(*index.EpochAt(10) == 3);
  CHECK(*index.EpochAt(1000) == 3);
  CHECK(*index.last_epoch() == 3);

  CHECK(index.Observe(4, 20));
  CHECK(index.TruncateFrom(20));
  CHECK_FALSE(index.TruncateFrom(20));
  CHECK(index.entries() == std::vector<Entry>{{1, 0}, {3, 10}});
  CHECK(index.TruncateBefore(11));
  CHECK(index.entries() == std::vector<Entry>{{3, 11}});
  CHECK_FALSE(index.TruncateBefore(11));
  CHECK_FALSE(index.EpochAt(10).has_value());
}

TEST_CASE("term index: the checkpoint round-trips and refuses damage", "[storage]") {
  TermIndex index;
  index.Observe(-1, 0);
  index.Observe(0, 7);
  index.Observe(12, 1 << 20);
  const std::string bytes = index.Encode();
  auto decoded = TermIndex::Decode(bytes, "f");
  REQUIRE(decoded.ok());
  CHECK(decoded->entries() == index.entries());

  SECTION("truncated") {
    CHECK(absl::IsDataLoss(TermIndex::Decode(bytes.substr(0, 20), "f").status()));
  }
  SECTION("bit flip") {
    std::string bad = bytes;
    bad[14] ^= 1;
    CHECK(absl::IsDataLoss(TermIndex::Decode(bad, "f").status()));
  }
  SECTION("unknown version") {
    std::string bad = bytes;
    bad[5] = 2;
    CHECK(absl::IsDataLoss(TermIndex::Decode(bad, "f").status()));
  }
  SECTION("a huge count is refused before allocating") {
    std::string bad = bytes;
    bad[8] = '\x7f';
    CHECK(absl::IsDataLoss(TermIndex::Decode(bad, "f").status()));
  }
}

struct LogFixture {
  TempDir tmp;
  Flusher flusher;
  std::string dir = tmp.Sub("t-0");

  std::unique_ptr<Log> Open() {
    auto log = Log::Open(dir, LogConfig{}, LogOptions{FileSystem::Default(), &flusher, {}, {}});
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return std::move(*log);
  }
};

void AppendAt(Log* log, int32_t epoch, int records = 2) {
  const int64_t first = log->next_offset().value();
  auto r = log->AppendAndWait(MakeBatch(first, records, 10, 0),
                              AppendOptions{.assign_offsets = true, .leader_epoch = epoch});
  INFO(r.status().ToString());
  REQUIRE(r.ok());
}

TEST_CASE(
    "log: epochs are answered from memory and survive reopen, truncation and prefix "
    "deletion",
    "[storage]") {
  LogFixture f;
  auto log = f.Open();
  CHECK_FALSE(std::filesystem::exists(f.dir + "/leader-epochs"));  // nothing to record yet
  AppendAt(log.get(), 1);                                          // 0-1
  AppendAt(log.get(), 1);                                          // 2-3
  AppendAt(log.get(), 4);                                          // 4-5
  AppendAt(log.get(), 6);                                          // 6-7
  CHECK(log->epochs() == std::vector<Entry>{{1, 0}, {4, 4}, {6, 6}});
  CHECK(*log->EpochAt(Offset(3)) == 1);
  CHECK(*log->EpochAt(Offset(5)) == 4);
  CHECK_FALSE(log->EpochAt(Offset(8)).has_value());

  // A batch of an older epoch than the log's is refused and changes nothing.
  auto stale = log->AppendAndWait(MakeBatch(8, 1, 10, 0),
                                  AppendOptions{.assign_offsets = true, .leader_epoch = 5});
  CHECK(absl::IsInvalidArgument(stale.status()));
  CHECK(log->next_offset() == Offset(8));

  REQUIRE(log->TruncateTo(Offset(6)).ok());
  CHECK(log->epochs() == std::vector<Entry>{{1, 0}, {4, 4}});
  AppendAt(log.get(), 7);  // 6-7
  REQUIRE(log->DeletePrefix(Offset(3)).ok());
  CHECK(log->epochs() == std::vector<Entry>{{1, 3}, {4, 4}, {7, 6}});
  REQUIRE(log->Close().ok());

  log = f.Open();
  CHECK(log->epochs() == std::vector<Entry>{{1, 3}, {4, 4}, {7, 6}});
  CHECK(*log->EpochAt(Offset(7)) == 7);
}

TEST_CASE("log: a missing or damaged epoch checkpoint is rebuilt from the batches", "[storage]") {
  LogFixture f;
  auto log = f.Open();
  AppendAt(log.get(), 2);
  AppendAt(log.get(), 5);
  REQUIRE(log->Close().ok());
  const std::string path = f.dir + "/leader-epochs";
  SECTION("missing") { std::filesystem::remove(path); }
  SECTION("damaged") {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(13);
    file.put('\x55');
  }
  log = f.Open();
  CHECK(log->epochs() == std::vector<Entry>{{2, 0}, {5, 2}});
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("log: an epoch checkpointed for a batch that never reached the disk is dropped",
          "[storage]") {
  LogFixture f;
  auto log = f.Open();
  AppendAt(log.get(), 2);
  REQUIRE(log->Close().ok());
  // What a crash between the checkpoint and the batch's write leaves behind.
  TermIndex ahead;
  ahead.Observe(2, 0);
  ahead.Observe(9, 2);
  {
    std::ofstream file(f.dir + "/leader-epochs", std::ios::binary | std::ios::trunc);
    file << ahead.Encode();
  }
  log = f.Open();
  CHECK(log->epochs() == std::vector<Entry>{{2, 0}});
  AppendAt(log.get(), 3);
  CHECK(*log->EpochAt(Offset(2)) == 3);
}

TEST_CASE("log: a failed checkpoint write refuses the batch that starts the epoch", "[storage]") {
  LogFixture f;
  testing::FaultInjectionFileSystem fs;
  auto opened = Log::Open(f.dir, LogConfig{}, LogOptions{&fs, &f.flusher, {}, {}});
  REQUIRE(opened.ok());
  auto& log = *opened;
  AppendAt(log.get(), 1);
  fs.SetDiskFull(true);
  auto refused = log->AppendAndWait(MakeBatch(2, 1, 10, 0),
                                    AppendOptions{.assign_offsets = true, .leader_epoch = 2});
  CHECK(absl::IsResourceExhausted(refused.status()));
  CHECK(log->next_offset() == Offset(2));
  CHECK(log->epochs() == std::vector<Entry>{{1, 0}});
  fs.SetDiskFull(false);
  AppendAt(log.get(), 2);
  CHECK(log->epochs() == std::vector<Entry>{{1, 0}, {2, 2}});
}

}  // namespace
