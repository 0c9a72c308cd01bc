#include "storage/log.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "format/big_endian.h"
#include "tests/support/fault_injection_fs.h"
#include "tests/support/test_util.h"

using namespace rill;
using namespace rill::storage;
using rill::testing::DecodeBatches;
using rill::testing::MakeBatch;
using rill::testing::TempDir;
using rill::testing::ValueForOffset;

namespace {

struct Fixture {
  TempDir tmp;
  Flusher flusher;
  std::atomic<int64_t> now_ms{1'700'000'000'000};
  std::string dir = tmp.Sub("topic-0");

  LogOptions Options(FileSystem* fs = FileSystem::Default()) {
    return LogOptions{fs, &flusher, [this] { return now_ms.load(); }, {}};
  }
  std::unique_ptr<Log> Open(const LogConfig& config = {}, FileSystem* fs = FileSystem::Default()) {
    auto log = Log::Open(dir, config, Options(fs));
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return std::move(*log);
  }
};

LogConfig SmallSegments() {
  LogConfig config;
  config.segment_bytes = 4096;
  config.index_interval_bytes = 512;
  return config;
}

// Appends `batches` batches of `per_batch` records of `value_bytes` each; record timestamps are
// `base_ts + offset`.
void Fill(Log* log, int batches, int per_batch, size_t value_bytes, int64_t base_ts = 0) {
  for (int i = 0; i < batches; ++i) {
    int64_t first = log->next_offset().value();
    auto r = log->AppendAndWait(MakeBatch(first, per_batch, value_bytes, base_ts + first));
    REQUIRE(r.ok());
    REQUIRE(r->base_offset.value() == first);
  }
}

std::vector<testing::DecodedRecord> ReadAll(const Log& log, int64_t from = -1) {
  std::vector<testing::DecodedRecord> all;
  int64_t next = from >= 0 ? from : log.start_offset().value();
  while (next < log.next_offset().value()) {
    auto r = log.Read(Offset(next), 3000);
    REQUIRE(r.ok());
    REQUIRE(r->next_offset.value() > next);
    for (auto& rec : DecodeBatches(r->batches)) {
      if (rec.offset >= next) all.push_back(std::move(rec));
    }
    next = r->next_offset.value();
  }
  return all;
}

void CheckContiguous(const std::vector<testing::DecodedRecord>& records, int64_t first, int64_t end,
                     size_t value_bytes) {
  REQUIRE(static_cast<int64_t>(records.size()) == end - first);
  for (size_t i = 0; i < records.size(); ++i) {
    REQUIRE(records[i].offset == first + static_cast<int64_t>(i));
    REQUIRE(records[i].value == ValueForOffset(records[i].offset, value_bytes));
  }
}

}  // namespace

TEST_CASE("log: append assigns offsets and reads return them", "[storage]") {
  Fixture f;
  auto log = f.Open();
  Fill(log.get(), 10, 5, 20);
  CHECK(log->next_offset() == Offset(50));
  CHECK(log->durable_offset() == Offset(50));
  CheckContiguous(ReadAll(*log), 0, 50, 20);

  SECTION("a read from the middle of a batch returns that whole batch") {
    auto r = log->Read(Offset(12), 1 << 20);
    REQUIRE(r.ok());
    auto records = DecodeBatches(r->batches);
    CHECK(records.front().offset == 10);
    CHECK(r->next_offset == Offset(50));
  }
  SECTION("max bytes returns whole batches, at least one") {
    auto r = log->Read(Offset(0), 1);
    REQUIRE(r.ok());
    CHECK(DecodeBatches(r->batches).size() == 5);
    CHECK(r->next_offset == Offset(5));
  }
  SECTION("the upper bound is respected") {
    auto r = log->Read(Offset(0), 1 << 20, Offset(23));
    REQUIRE(r.ok());
    CHECK(r->next_offset == Offset(20));
    auto none = log->Read(Offset(20), 1 << 20, Offset(20));
    REQUIRE(none.ok());
    CHECK(none->batches.empty());
  }
  SECTION("reading at the end returns nothing; beyond it is out of range") {
    auto r = log->Read(Offset(50), 1 << 20);
    REQUIRE(r.ok());
    CHECK(r->batches.empty());
    CHECK(absl::IsOutOfRange(log->Read(Offset(51), 100).status()));
    CHECK(absl::IsOutOfRange(log->Read(Offset(-1), 100).status()));
  }
}

TEST_CASE("log: invalid appends are rejected and change nothing", "[storage]") {
  Fixture f;
  LogConfig config;
  config.max_batch_bytes = 1000;
  auto log = f.Open(config);
  Fill(log.get(), 1, 3, 10);

  std::string bad = MakeBatch(0, 2, 10, 0);
  bad[bad.size() - 1] ^= 1;
  CHECK(absl::IsInvalidArgument(log->Append(bad, {}, [](absl::Status) { FAIL(); }).status()));
  CHECK(absl::IsInvalidArgument(log->Append("garbage", {}, [](absl::Status) { FAIL(); }).status()));
  CHECK(absl::IsResourceExhausted(log->AppendAndWait(MakeBatch(0, 5, 400, 0)).status()));

  AppendOptions follower;
  follower.assign_offsets = false;
  CHECK(absl::IsInvalidArgument(log->AppendAndWait(MakeBatch(0, 1, 1, 0), follower).status()));
  std::string continuing = MakeBatch(3, 2, 10, 0);
  format::SetBaseOffset(&continuing, 0, 3);
  CHECK(log->AppendAndWait(continuing, follower).ok());

  CHECK(log->next_offset() == Offset(5));
  CheckContiguous(ReadAll(*log), 0, 5, 10);
}

TEST_CASE("log: leader epoch is stamped into stored batches", "[storage]") {
  Fixture f;
  auto log = f.Open();
  REQUIRE(log->AppendAndWait(MakeBatch(0, 1, 1, 0),
                             AppendOptions{.assign_offsets = true, .leader_epoch = 7})
              .ok());
  auto r = log->Read(Offset(0), 1000);
  REQUIRE(r.ok());
  auto header = format::ValidateBatch(r->batches, {});
  REQUIRE(header.ok());
  CHECK(header->partition_leader_epoch == 7);
}

TEST_CASE("log: segments roll by size and by age, and reads span them", "[storage]") {
  Fixture f;
  SECTION("by size") {
    auto log = f.Open(SmallSegments());
    Fill(log.get(), 40, 4, 50);
    CHECK(log->stats().segment_count >= 3);
    for (const auto& entry : std::filesystem::directory_iterator(f.dir)) {
      if (entry.path().extension() == ".log") CHECK(entry.file_size() <= 4096);
    }
    CheckContiguous(ReadAll(*log), 0, 160, 50);
    // One read larger than a segment crosses segment boundaries.
    auto r = log->Read(Offset(0), 20000);
    REQUIRE(r.ok());
    CHECK(r->batches.size() > 4096);
  }
  SECTION("by age") {
    LogConfig config;
    config.segment_ms = 1000;
    auto log = f.Open(config);
    Fill(log.get(), 3, 1, 10);
    CHECK(log->stats().segment_count == 1);
    f.now_ms += 1000;
    Fill(log.get(), 1, 1, 10);
    CHECK(log->stats().segment_count == 2);
    Fill(log.get(), 1, 1, 10);
    CHECK(log->stats().segment_count == 2);
  }
}

TEST_CASE("log: find the first offset at or after a timestamp", "[storage]") {
  Fixture f;
  auto log = f.Open(SmallSegments());
  // Offset o has timestamp 1000 + 10 * o: batches of 4 records, timestamps inside a batch step
  // by one from the batch's first, so set them explicitly.
  for (int b = 0; b < 50; ++b) {
    format::BatchBuilder builder;
    for (int i = 0; i < 4; ++i) {
      int64_t offset = b * 4 + i;
      builder.Append(1000 + 10 * offset, "k", ValueForOffset(offset, 40));
    }
    REQUIRE(log->AppendAndWait(builder.Build()).ok());
  }
  REQUIRE(log->stats().segment_count > 3);
  for (int64_t offset = 0; offset < 200; offset += 7) {
    auto exact = log->FindOffsetByTimestamp(1000 + 10 * offset);
    REQUIRE(exact.ok());
    REQUIRE(exact->has_value());
    CHECK((*exact)->value() == offset);
    auto between = log->FindOffsetByTimestamp(1000 + 10 * offset - 5);
    REQUIRE(between.ok());
    CHECK((*between)->value() == offset);
  }
  CHECK((*log->FindOffsetByTimestamp(0))->value() == 0);
  auto none = log->FindOffsetByTimestamp(1000 + 10 * 200);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  SECTION("after a restart, from the persisted time indexes") {
    REQUIRE(log->Close().ok());
    log = f.Open(SmallSegments());
    CHECK((*log->FindOffsetByTimestamp(1000 + 10 * 133))->value() == 133);
  }
}

TEST_CASE("log: truncate a suffix", "[storage]") {
  Fixture f;
  auto log = f.Open(SmallSegments());
  Fill(log.get(), 40, 4, 50);
  const size_t segments = log->stats().segment_count;

  CHECK(absl::IsInvalidArgument(log->TruncateTo(Offset(41))));  // inside a batch
  CHECK(absl::IsOutOfRange(log->TruncateTo(Offset(161))));

  REQUIRE(log->TruncateTo(Offset(40)).ok());
  CHECK(log->next_offset() == Offset(40));
  CHECK(log->stats().segment_count < segments);
  CheckContiguous(ReadAll(*log), 0, 40, 50);
  CHECK(absl::IsOutOfRange(log->Read(Offset(41), 100).status()));

  // The log continues from the truncation point, and all of it survives a restart.
  Fill(log.get(), 5, 4, 50);
  CheckContiguous(ReadAll(*log), 0, 60, 50);
  REQUIRE(log->Close().ok());
  log = f.Open(SmallSegments());
  CheckContiguous(ReadAll(*log), 0, 60, 50);
  CHECK(log->Verify().ok());

  SECTION("to the very start") {
    REQUIRE(log->TruncateTo(Offset(0)).ok());
    CHECK(log->next_offset() == Offset(0));
    Fill(log.get(), 1, 2, 50);
    CheckContiguous(ReadAll(*log), 0, 2, 50);
  }
}

TEST_CASE("log: delete a prefix and persist the start offset", "[storage]") {
  Fixture f;
  auto log = f.Open(SmallSegments());
  Fill(log.get(), 40, 4, 50);
  REQUIRE(log->DeletePrefix(Offset(61)).ok());
  CHECK(log->start_offset() == Offset(61));
  CHECK(absl::IsOutOfRange(log->Read(Offset(60), 100).status()));
  CheckContiguous(ReadAll(*log), 61, 160, 50);
  CHECK(absl::IsOutOfRange(log->DeletePrefix(Offset(161))));
  const size_t segments = log->stats().segment_count;

  REQUIRE(log->Close().ok());
  log = f.Open(SmallSegments());
  CHECK(log->start_offset() == Offset(61));
  CHECK(log->stats().segment_count == segments);
  CHECK((*log->FindOffsetByTimestamp(0))->value() == 61);
}

TEST_CASE("log: retention deletes whole sealed segments, by size and by age", "[storage]") {
  Fixture f;
  SECTION("by size") {
    LogConfig config = SmallSegments();
    config.retention_bytes = 10000;
    auto log = f.Open(config);
    Fill(log.get(), 100, 4, 50, f.now_ms);
    auto before = log->stats();
    auto result = log->EnforceRetention();
    REQUIRE(result.ok());
    CHECK(result->segments_deleted > 0);
    auto after = log->stats();
    CHECK(after.size_bytes >= 10000);
    CHECK(after.size_bytes < 10000 + 4096);
    CHECK(after.size_bytes == before.size_bytes - result->bytes_deleted);
    CHECK(after.start_offset > Offset(0));
    CheckContiguous(ReadAll(*log), after.start_offset.value(), 400, 50);
    REQUIRE(log->Close().ok());
    log = f.Open(config);
    CHECK(log->start_offset() == after.start_offset);
  }
  SECTION("by age, never the active segment") {
    LogConfig config = SmallSegments();
    config.retention_ms = 60'000;
    auto log = f.Open(config);
    // Old records, then new ones: only segments holding nothing but old records go.
    Fill(log.get(), 20, 4, 50, f.now_ms - 120'000);
    Fill(log.get(), 20, 4, 50, f.now_ms);
    auto result = log->EnforceRetention();
    REQUIRE(result.ok());
    CHECK(result->segments_deleted > 0);
    CHECK(log->start_offset() <= Offset(80));
    CHECK(log->start_offset() > Offset(40));

    // Everything is old now, but the active segment stays.
    f.now_ms += 3'600'000;
    REQUIRE(log->EnforceRetention().ok());
    CHECK(log->stats().segment_count == 1);
    CHECK(log->next_offset() == Offset(160));
    Fill(log.get(), 1, 1, 50);
  }
}

TEST_CASE("log: missing or corrupt indexes are rebuilt on open", "[storage]") {
  Fixture f;
  {
    auto log = f.Open(SmallSegments());
    Fill(log.get(), 40, 4, 50);
  }
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(f.dir)) {
    if (entry.path().extension() == ".index" && removed++ % 2 == 0) {
      std::filesystem::remove(entry.path());
    } else if (entry.path().extension() == ".timeindex") {
      std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << "garbage!";
    }
  }
  auto log = f.Open(SmallSegments());
  CHECK(log->recovery().indexes_rebuilt > 0);
  CHECK(log->recovery().truncated_bytes == 0);
  CheckContiguous(ReadAll(*log), 0, 160, 50);
  CHECK((*log->FindOffsetByTimestamp(100))->value() == 100);
}

TEST_CASE("log: clean shutdown is recorded and consumed", "[storage]") {
  Fixture f;
  auto log = f.Open();
  Fill(log.get(), 2, 2, 10);
  REQUIRE(log->Close().ok());
  CHECK(std::filesystem::exists(f.dir + "/" + kCleanShutdownFileName));
  CHECK(absl::IsFailedPrecondition(log->AppendAndWait(MakeBatch(0, 1, 1, 0)).status()));
  log = f.Open();
  CHECK(log->recovery().clean_shutdown);
  CHECK_FALSE(std::filesystem::exists(f.dir + "/" + kCleanShutdownFileName));
  CheckContiguous(ReadAll(*log), 0, 4, 10);
}

TEST_CASE("log: group commit covers concurrent appends with fewer syncs", "[storage]") {
  Fixture f;
  auto log = f.Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = log->AppendAndWait(MakeBatch(0, 2, 100, 0));
        if (r.ok()) ++acked;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(acked == kThreads * kPerThread);
  CHECK(log->durable_offset() == Offset(2 * kThreads * kPerThread));
  // Each sync covered several appends on average.
  CHECK(f.flusher.flush_count() < static_cast<uint64_t>(kThreads * kPerThread));
  auto records = ReadAll(*log);
  CHECK(records.size() == 2 * kThreads * kPerThread);
}

TEST_CASE("log: relaxed flush policy acknowledges on write and syncs on its interval",
          "[storage]") {
  Fixture f;
  testing::FaultInjectionFileSystem fs;
  LogConfig config;
  config.flush_interval_ms = 20;
  auto log = f.Open(config, &fs);
  bool called = false;
  auto r = log->Append(MakeBatch(0, 1, 10, 0), {}, [&](absl::Status s) { called = s.ok(); });
  REQUIRE(r.ok());
  CHECK(called);  // before any sync
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log->durable_offset() < Offset(1) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(log->durable_offset() == Offset(1));
}

TEST_CASE("log: a failed sync fails pending appends and the log refuses writes", "[storage]") {
  Fixture f;
  testing::FaultInjectionFileSystem fs;
  auto log = f.Open({}, &fs);
  Fill(log.get(), 1, 1, 10);
  fs.FailSyncsAfter(0);
  auto r = log->AppendAndWait(MakeBatch(0, 1, 10, 0));
  CHECK(absl::IsDataLoss(r.status()));
  CHECK(absl::IsDataLoss(log->AppendAndWait(MakeBatch(0, 1, 10, 0)).status()));
  CHECK(absl::IsDataLoss(log->Read(Offset(0), 100).status()));
  log.reset();
  fs.FailSyncsAfter(-1);
  // Reopened, the log recovers what was acknowledged and works again.
  log = f.Open({}, &fs);
  CHECK(log->next_offset() >= Offset(1));
  Fill(log.get(), 1, 1, 10);
}

TEST_CASE("log: a full disk rejects the append and keeps the log intact", "[storage]") {
  Fixture f;
  testing::FaultInjectionFileSystem fs;
  auto log = f.Open(SmallSegments(), &fs);
  Fill(log.get(), 10, 2, 100);
  fs.SetDiskFull(true);
  for (int i = 0; i < 20; ++i) {
    CHECK(absl::IsResourceExhausted(log->AppendAndWait(MakeBatch(0, 2, 100, 0)).status()));
  }
  fs.SetDiskFull(false);
  Fill(log.get(), 10, 2, 100);
  CheckContiguous(ReadAll(*log), 0, 40, 100);
  REQUIRE(log->Close().ok());
  log = f.Open(SmallSegments(), &fs);
  CheckContiguous(ReadAll(*log), 0, 40, 100);
  CHECK(log->Verify().ok());
}

TEST_CASE("log: a pre-validated append still checks the header and the length", "[storage]") {
  Fixture f;
  auto log = f.Open();
  AppendOptions validated;
  validated.validated = true;
  std::string batch = MakeBatch(0, 2, 10, 0);
  std::string bad_magic = batch;
  bad_magic[format::kMagicPos] = 1;
  CHECK(absl::IsInvalidArgument(log->AppendAndWait(bad_magic, validated).status()));
  CHECK(absl::IsInvalidArgument(log->AppendAndWait(batch + "extra", validated).status()));
  CHECK(absl::IsInvalidArgument(log->AppendAndWait(batch.substr(0, 40), validated).status()));
  auto appended = log->AppendAndWait(batch, validated);
  REQUIRE(appended.ok());
  CHECK(appended->base_offset == Offset(0));
  CheckContiguous(ReadAll(*log), 0, 2, 10);
}
