#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "format/record_batch.h"
#include "storage/log.h"
#include "storage/segment.h"
#include "tests/support/fault_injection_fs.h"
#include "tests/support/test_util.h"

using namespace rill;
using namespace rill::storage;
using rill::testing::DecodeBatches;
using rill::testing::FlipBit;
using rill::testing::MakeBatch;
using rill::testing::NowMs;
using rill::testing::TempDir;
using rill::testing::ValueForOffset;

namespace {

constexpr size_t kValueBytes = 30;

LogConfig SmallSegments() {
  LogConfig config;
  config.segment_bytes = 4096;
  config.index_interval_bytes = 512;
  return config;
}

struct Paths {
  TempDir tmp;
  std::string dir = tmp.Sub("p-0");
  std::string Segment(int64_t base, const char* ext = "log") const {
    return dir + "/" + SegmentFileName(base, ext);
  }
};

std::unique_ptr<Log> OpenLog(const std::string& dir, Flusher* flusher, const LogConfig& config = {},
                             FileSystem* fs = FileSystem::Default()) {
  auto log = Log::Open(dir, config, LogOptions{fs, flusher, {}, {}});
  INFO(log.status().ToString());
  REQUIRE(log.ok());
  return std::move(*log);
}

// Writes `batches` batches of 3 records and closes cleanly. Returns the byte position at which
// each batch starts in the (single) segment.
std::vector<uint64_t> WriteBatches(const std::string& dir, Flusher* flusher, int batches) {
  auto log = OpenLog(dir, flusher);
  std::vector<uint64_t> positions;
  uint64_t position = 0;
  for (int i = 0; i < batches; ++i) {
    std::string batch = MakeBatch(log->next_offset().value(), 3, kValueBytes, NowMs() + i);
    positions.push_back(position);
    position += batch.size();
    REQUIRE(log->AppendAndWait(batch).ok());
  }
  REQUIRE(log->Close().ok());
  return positions;
}

void MarkUnclean(const std::string& dir) {
  std::filesystem::remove(dir + "/" + kCleanShutdownFileName);
}

int64_t ReadAllChecked(const Log& log) {
  int64_t next = log.start_offset().value();
  while (next < log.next_offset().value()) {
    auto r = log.Read(Offset(next), 1 << 20);
    REQUIRE(r.ok());
    for (const auto& rec : DecodeBatches(r->batches)) {
      REQUIRE(rec.value == ValueForOffset(rec.offset, kValueBytes));
    }
    next = r->next_offset.value();
  }
  return next;
}

}  // namespace

TEST_CASE(
    "recovery: a torn tail, cut at every byte of the last batch, is truncated to the "
    "last whole batch",
    "[storage]") {
  Paths p;
  Flusher flusher;
  auto positions = WriteBatches(p.dir, &flusher, 5);
  const uint64_t last_start = positions.back();
  const uint64_t full_size = std::filesystem::file_size(p.Segment(0));
  std::string original;
  {
    std::ifstream in(p.Segment(0), std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }

  for (uint64_t cut = last_start; cut < full_size; ++cut) {
    INFO("cut at " << cut);
    {
      std::ofstream out(p.Segment(0), std::ios::binary | std::ios::trunc);
      out.write(original.data(), static_cast<std::streamsize>(cut));
    }
    MarkUnclean(p.dir);
    auto log = OpenLog(p.dir, &flusher);
    REQUIRE(log->next_offset() == Offset(12));
    REQUIRE(log->recovery().truncated_bytes == cut - last_start);
    REQUIRE(std::filesystem::file_size(p.Segment(0)) == last_start);
    REQUIRE(ReadAllChecked(*log) == 12);
    // The log accepts appends again where it was cut.
    REQUIRE(log->AppendAndWait(MakeBatch(12, 3, kValueBytes, NowMs())).ok());
    REQUIRE(log->next_offset() == Offset(15));
    log.reset();
    MarkUnclean(p.dir);
  }
}

TEST_CASE("recovery: a bit flip in the active segment after a crash truncates from that batch",
          "[storage]") {
  Paths p;
  Flusher flusher;
  auto positions = WriteBatches(p.dir, &flusher, 6);
  // Flip a bit in the payload of batch 4 (offsets 12..14): batches 4 and 5 are dropped.
  FlipBit(p.Segment(0), positions[4] + 70, 3);
  MarkUnclean(p.dir);
  auto log = OpenLog(p.dir, &flusher);
  CHECK(log->next_offset() == Offset(12));
  CHECK(log->recovery().truncated_bytes > 0);
  CHECK(ReadAllChecked(*log) == 12);
}

TEST_CASE("recovery: below the recovery point a bit flip is DataLoss, never cut", "[storage]") {
  Paths p;
  Flusher flusher;
  auto positions = WriteBatches(p.dir, &flusher, 6);
  FlipBit(p.Segment(0), positions[4] + 70, 3);
  MarkUnclean(p.dir);
  // Everything (18 records) was durable and acknowledged: batch 4 lies below the point.
  auto log = Log::Open(p.dir, {}, LogOptions{FileSystem::Default(), &flusher, {}, 18});
  REQUIRE(absl::IsDataLoss(log.status()));
  CHECK_THAT(std::string(log.status().message()), Catch::Contains("below the recovery point 18"));
  CHECK_THAT(std::string(log.status().message()), Catch::Contains("offset 12"));
  // Nothing was cut: the bytes are still there for an operator (or a replica) to repair.
  CHECK(std::filesystem::file_size(p.Segment(0)) == positions[5] + (positions[5] - positions[4]));
}

TEST_CASE("recovery: past the recovery point a corrupt tail is cut as a torn write", "[storage]") {
  Paths p;
  Flusher flusher;
  auto positions = WriteBatches(p.dir, &flusher, 6);
  FlipBit(p.Segment(0), positions[4] + 70, 3);
  MarkUnclean(p.dir);
  auto log = Log::Open(p.dir, {}, LogOptions{FileSystem::Default(), &flusher, {}, 12});
  REQUIRE(log.ok());
  CHECK((*log)->next_offset() == Offset(12));
}

TEST_CASE("recovery: a log that ends below its recovery point has lost records: DataLoss",
          "[storage]") {
  Paths p;
  Flusher flusher;
  auto positions = WriteBatches(p.dir, &flusher, 6);
  std::filesystem::resize_file(p.Segment(0), positions[3]);
  MarkUnclean(p.dir);
  auto log = Log::Open(p.dir, {}, LogOptions{FileSystem::Default(), &flusher, {}, 18});
  REQUIRE(absl::IsDataLoss(log.status()));
  CHECK_THAT(std::string(log.status().message()), Catch::Contains("ends at offset 9"));
}

TEST_CASE("recovery: corruption of data that was cleanly closed is DataLoss, never hidden",
          "[storage]") {
  Paths p;
  Flusher flusher;

  SECTION("active segment after a clean shutdown") {
    auto positions = WriteBatches(p.dir, &flusher, 6);
    FlipBit(p.Segment(0), positions[5] + 70);
    auto log = Log::Open(p.dir, {}, LogOptions{FileSystem::Default(), &flusher, {}, {}});
    CHECK(absl::IsDataLoss(log.status()));
    CHECK_THAT(std::string(log.status().message()), Catch::Contains("CRC mismatch"));
  }

  SECTION("sealed segments") {
    std::vector<int64_t> bases;
    {
      auto log = OpenLog(p.dir, &flusher, SmallSegments());
      for (int i = 0; i < 60; ++i) {
        REQUIRE(
            log->AppendAndWait(MakeBatch(log->next_offset().value(), 3, kValueBytes, NowMs() + i))
                .ok());
      }
      REQUIRE(log->stats().segment_count >= 3);
    }
    for (const auto& entry : std::filesystem::directory_iterator(p.dir)) {
      if (auto base = ParseSegmentFileName(entry.path().filename().string()))
        bases.push_back(*base);
    }
    std::sort(bases.begin(), bases.end());
    const std::string sealed = p.Segment(bases[1]);
    const uint64_t size = std::filesystem::file_size(sealed);

    SECTION("a flipped bit in its tail fails the open") {
      FlipBit(sealed, size - 5);
      MarkUnclean(p.dir);  // even after a crash, sealed data is never truncated away
      auto log =
          Log::Open(p.dir, SmallSegments(), LogOptions{FileSystem::Default(), &flusher, {}, {}});
      CHECK(absl::IsDataLoss(log.status()));
    }
    SECTION("a sealed segment cut short fails the open") {
      std::filesystem::resize_file(sealed, size - 10);
      auto log =
          Log::Open(p.dir, SmallSegments(), LogOptions{FileSystem::Default(), &flusher, {}, {}});
      CHECK(absl::IsDataLoss(log.status()));
    }
    SECTION("a missing segment fails the open") {
      std::filesystem::remove(sealed);
      auto log =
          Log::Open(p.dir, SmallSegments(), LogOptions{FileSystem::Default(), &flusher, {}, {}});
      CHECK(absl::IsDataLoss(log.status()));
      CHECK_THAT(std::string(log.status().message()),
                 Catch::Contains("but the next segment starts"));
    }
    SECTION("a damaged batch header is DataLoss on read") {
      std::string first_header(format::kBatchHeaderBytes, '\0');
      std::ifstream(sealed, std::ios::binary).read(first_header.data(), 61);
      auto header = format::ParseBatchHeader(first_header, 1 << 20);
      REQUIRE(header.ok());
      FlipBit(sealed, header->size_bytes() + format::kMagicPos);
      auto log = OpenLog(p.dir, &flusher, SmallSegments());
      auto r = log->Read(Offset(bases[1]), 1 << 20);
      CHECK(absl::IsDataLoss(r.status()));
    }
    SECTION("a flipped payload bit in the middle is found by Verify") {
      FlipBit(sealed, 100);
      auto log = OpenLog(p.dir, &flusher, SmallSegments());
      absl::Status s = log->Verify();
      CHECK(absl::IsDataLoss(s));
      CHECK_THAT(std::string(s.message()), Catch::Contains(SegmentFileName(bases[1], "log")));
    }
  }
}

TEST_CASE("recovery: the start-offset checkpoint is checked", "[storage]") {
  Paths p;
  Flusher flusher;
  {
    auto log = OpenLog(p.dir, &flusher);
    REQUIRE(log->AppendAndWait(MakeBatch(0, 5, 1, 0)).ok());
    REQUIRE(log->DeletePrefix(Offset(2)).ok());
  }
  FlipBit(p.dir + "/" + kStartOffsetFileName, 10);
  auto log = Log::Open(p.dir, {}, LogOptions{FileSystem::Default(), &flusher, {}, {}});
  CHECK(absl::IsDataLoss(log.status()));
}

// Power loss: appends run with random waits for durability; at a random moment the machine
// "stops" and everything not synced may be lost or torn. Every append that was acknowledged
// must be there, intact and in order, and the log must accept appends again. Seeds are printed.
TEST_CASE("recovery: power loss never loses an acknowledged append", "[storage]") {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    Paths p;
    testing::FaultInjectionFileSystem fs;
    Flusher flusher;
    LogConfig config = SmallSegments();
    config.segment_bytes = 2048 + rng() % 4096;
    int64_t acked_end = 0;

    for (int round = 0; round < 4; ++round) {
      auto log = OpenLog(p.dir, &flusher, config, &fs);
      REQUIRE(log->next_offset().value() >= acked_end);
      // Anything past the acknowledged end was never acknowledged: drop it so offsets line up
      // with ValueForOffset again.
      if (log->next_offset().value() > acked_end) REQUIRE(log->TruncateTo(Offset(acked_end)).ok());
      REQUIRE(ReadAllChecked(*log) == acked_end);

      const int appends = 5 + static_cast<int>(rng() % 40);
      std::atomic<int64_t> durable_end{acked_end};
      for (int i = 0; i < appends; ++i) {
        int64_t first = log->next_offset().value();
        int count = 1 + static_cast<int>(rng() % 4);
        auto r =
            log->Append(MakeBatch(first, count, kValueBytes, NowMs()), {},
                        [&durable_end, end = first + count](absl::Status s) {
                          if (s.ok()) {
                            int64_t prev = durable_end.load();
                            while (prev < end && !durable_end.compare_exchange_weak(prev, end)) {
                            }
                          }
                        });
        REQUIRE(r.ok());
        if (rng() % 3 == 0) {
          while (durable_end.load() < first + count) std::this_thread::yield();
        }
      }
      fs.Crash();
      acked_end = durable_end.load();
      log.reset();  // the close fails: the machine is off
      fs.DropUnsyncedData(&rng, /*torn=*/rng() % 4 != 0);
    }
    auto log = OpenLog(p.dir, &flusher, config, &fs);
    REQUIRE(log->next_offset().value() >= acked_end);
    REQUIRE(log->Verify().ok());
  }
}
