#include "cluster/storage_raft_log.h"

#include <catch2/catch.hpp>
#include <future>
#include <random>

#include "raft/raft.h"
#include "storage/flusher.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Term;
using testing::TempDir;

struct Fixture {
  TempDir tmp;
  storage::Flusher flusher;
  std::string dir = tmp.Sub("t-0");

  std::shared_ptr<storage::Log> OpenLog() {
    auto log =
        storage::Log::Open(dir, storage::LogConfig{},
                           storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return std::shared_ptr<storage::Log>(std::move(*log));
  }
};

absl::Status AppendAndWait(StorageRaftLog* log, Index after, const std::vector<Entry>& entries) {
  std::promise<absl::Status> durable;
  auto done = durable.get_future();
  absl::Status s = log->Append(after, entries, [&](absl::Status st) { durable.set_value(st); });
  absl::Status d = done.get();
  return s.ok() ? d : s;
}

// An entry of `records` records (0: a no-op; -1: a configuration change) ending `records` (or 1)
// offsets after `after`, as the stored form reads back.
Entry MakeEntry(Index after, int64_t term, int records, std::mt19937_64& rng) {
  Entry e;
  e.term = Term(term);
  if (records == 0) {
    e.index = after + 1;
    return e;
  }
  if (records < 0) {
    e.index = after + 1;
    e.type = EntryType::kConfChange;
    e.data = std::string("conf-") + std::to_string(rng() % 1000);
    return e;
  }
  e.index = after + records;
  auto batch = StorageRaftLog::EncodeEntry(
      Entry{e.term, e.index, EntryType::kNormal,
            testing::MakeBatch(0, records, 1 + rng() % 40, testing::NowMs())},
      1 << 20);
  REQUIRE(batch.ok());
  e.data = *batch;
  return e;
}

void CheckSame(const raft::MemoryLog& expected, const StorageRaftLog& actual) {
  REQUIRE(actual.LastIndex() == expected.LastIndex());
  const Index last = expected.LastIndex();
  for (Index i(0); i <= last + 2; ++i) {
    INFO("index " << i);
    auto want = expected.TermAt(i);
    auto got = actual.TermAt(i);
    REQUIRE(got.status().code() == want.status().code());
    if (want.ok()) REQUIRE(*got == *want);
    REQUIRE(actual.BoundaryAtOrBefore(i) == expected.BoundaryAtOrBefore(i));
  }
  for (Index b = expected.SnapshotMetadata().index; b < last; b = expected.BoundaryAtOrBefore(b)) {
    INFO("entries after " << b);
    REQUIRE(actual.EntriesAfter(b, last, 1000, size_t{1} << 30) ==
            expected.EntriesAfter(b, last, 1000, size_t{1} << 30));
    REQUIRE(actual.EntriesAfter(b, last, 1, size_t{1} << 30) ==
            expected.EntriesAfter(b, last, 1, size_t{1} << 30));
    // Step to the next boundary.
    auto next = expected.EntriesAfter(b, last, 1, size_t{1} << 30);
    REQUIRE(!next.empty());
    b = next[0].index;
    if (b >= last) break;
  }
}

TEST_CASE("storage raft log: answers as the in-memory log does, before and after a reopen",
          "[cluster]") {
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  Fixture f;
  raft::MemoryLog expected;
  auto log = std::make_unique<StorageRaftLog>(f.OpenLog(), raft::SnapshotMeta{}, nullptr);
  int64_t term = 1;
  for (int step = 0; step < 40; ++step) {
    // Mostly appends at the end; sometimes a new leader replaces a suffix.
    Index after = expected.LastIndex();
    if (step > 5 && rng() % 4 == 0) {
      after = expected.BoundaryAtOrBefore(Index(static_cast<int64_t>(rng() % (after.value() + 1))));
      ++term;
    }
    std::vector<Entry> entries;
    Index end = after;
    const int count = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < count; ++i) {
      const int kind = static_cast<int>(rng() % 6);
      entries.push_back(MakeEntry(end, term, kind == 0 ? 0 : kind == 1 ? -1 : kind, rng));
      end = entries.back().index;
    }
    expected.Append(after, entries);
    REQUIRE(AppendAndWait(log.get(), after, entries).ok());
    CheckSame(expected, *log);
  }
  log.reset();
  StorageRaftLog reopened(f.OpenLog(), raft::SnapshotMeta{}, nullptr);
  CheckSame(expected, reopened);
}

TEST_CASE("storage raft log: snapshots move the start, and bad entries are refused", "[cluster]") {
  Fixture f;
  std::mt19937_64 rng(7);
  StorageRaftLog log(f.OpenLog(), raft::SnapshotMeta{}, [] { return std::string("image"); });
  std::vector<Entry> entries{MakeEntry(Index(0), 1, 3, rng)};
  entries.push_back(MakeEntry(entries.back().index, 1, 0, rng));
  entries.push_back(MakeEntry(entries.back().index, 2, 2, rng));
  REQUIRE(AppendAndWait(&log, Index(0), entries).ok());
  CHECK(log.LastIndex() == Index(6));
  CHECK(log.log().next_offset() == Offset(6));  // the index is the high watermark to be

  SECTION("compaction") {
    REQUIRE(log.Compact(raft::SnapshotMeta{Index(4), Term(1), {}}).ok());
    CHECK(log.log().start_offset() == Offset(4));
    CHECK(*log.TermAt(Index(4)) == Term(1));
    CHECK(log.TermAt(Index(3)).status().code() == absl::StatusCode::kOutOfRange);
    CHECK(*log.TermAt(Index(6)) == Term(2));
    auto snapshot = log.GetSnapshot();
    REQUIRE(snapshot.ok());
    CHECK(snapshot->data == "image");
    CHECK(absl::IsInvalidArgument(log.Compact(raft::SnapshotMeta{Index(9), Term(2), {}})));
    CHECK(absl::IsInvalidArgument(AppendAndWait(&log, Index(3), {})));
  }
  SECTION("installing a snapshot past the end") {
    REQUIRE(log.InstallSnapshot(raft::SnapshotMeta{Index(100), Term(5), {}}).ok());
    CHECK(log.LastIndex() == Index(100));
    CHECK(*log.TermAt(Index(100)) == Term(5));
    CHECK(log.EntriesAfter(Index(100), Index(100), 10, 1000).empty());
    std::vector<Entry> next{MakeEntry(Index(100), 5, 2, rng)};
    REQUIRE(AppendAndWait(&log, Index(100), next).ok());
    CHECK(log.EntriesAfter(Index(100), Index(102), 10, 1000) == next);
  }
  SECTION("entries that do not fit") {
    // An index that does not match the batch's records: the log refuses it, unchanged.
    Entry wrong = MakeEntry(Index(6), 2, 3, rng);
    wrong.index = Index(50);
    CHECK_FALSE(AppendAndWait(&log, Index(6), {wrong}).ok());
    Entry garbage{Term(2), Index(7), EntryType::kNormal, "not a batch"};
    CHECK_FALSE(AppendAndWait(&log, Index(6), {garbage}).ok());
    // A term below the log's is refused too.
    CHECK_FALSE(AppendAndWait(&log, Index(6), {MakeEntry(Index(6), 1, 1, rng)}).ok());
    CHECK(log.LastIndex() == Index(6));
  }
}

TEST_CASE(
    "storage raft log: a single-voter RaftNode elects itself, commits, and restarts from "
    "the log",
    "[cluster]") {
  Fixture f;
  std::mt19937_64 rng(3);
  raft::RaftConfig config;
  config.id = NodeId(1);
  config.bootstrap.voters = {NodeId(1)};
  raft::HardState hard_state;
  Index committed;
  {
    StorageRaftLog log(f.OpenLog(), raft::SnapshotMeta{}, nullptr);
    auto node = raft::RaftNode::Create(config, &log, hard_state);
    REQUIRE(node.ok());
    REQUIRE((*node)->Campaign().ok());
    auto batch = testing::MakeBatch(0, 5, 10, testing::NowMs());
    auto index = (*node)->Propose(batch, 5);
    REQUIRE(index.ok());
    raft::Ready ready = (*node)->TakeReady();
    REQUIRE(ready.entries.size() == 2);  // the leader's no-op, then the batch
    REQUIRE(AppendAndWait(&log, ready.entries_after, ready.entries).ok());
    (*node)->Advance();
    committed = (*node)->commit();
    CHECK(committed == *index);
    CHECK(committed == Index(6));
    // The commit follows the write, in the next Ready's hard state.
    raft::Ready next = (*node)->TakeReady();
    REQUIRE(next.hard_state.has_value());
    hard_state = *next.hard_state;
    // What a consumer reads: the control batch is skipped, the records are at 1..5.
    auto read = log.log().Read(Offset(0), 1 << 20);
    REQUIRE(read.ok());
    auto first = format::ParseBatchHeader(read->batches, 1 << 20);
    REQUIRE(first.ok());
    CHECK(first->is_control());
    CHECK(first->partition_leader_epoch == (*node)->term().value());
  }
  StorageRaftLog log(f.OpenLog(), raft::SnapshotMeta{}, nullptr);
  auto node = raft::RaftNode::Create(config, &log, hard_state);
  REQUIRE(node.ok());
  CHECK(log.LastIndex() == Index(6));
  CHECK((*node)->commit() == committed);
}

}  // namespace
}  // namespace rill::cluster
