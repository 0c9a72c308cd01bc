#include "cluster/producer_tracker.h"

#include <catch2/catch.hpp>
#include <future>

#include "format/record_batch.h"
#include "storage/flusher.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;
using testing::TempDir;

constexpr char kKey[] = "producers/test-0";

// A one-record batch of producer `id` at `sequence`, as a leader proposes it.
std::string IdempotentBatch(int64_t id, int32_t sequence) {
  format::BatchBuilder builder(format::BatchOptions{
      .producer_id = id, .producer_epoch = 0, .base_sequence = sequence});
  builder.Append(1000, std::nullopt, std::string_view("v"), {});
  return builder.Build();
}

format::BatchHeader HeaderOf(const std::string& batch) {
  return format::ParseBatchHeader(batch, batch.size()).value();
}

struct Fixture {
  TempDir tmp;
  storage::Flusher flusher;
  std::unique_ptr<storage::MetaStore> meta = storage::MetaStore::Open(tmp.Sub("meta")).value();
  std::shared_ptr<storage::Log> log = std::shared_ptr<storage::Log>(
      storage::Log::Open(tmp.Sub("p-0"), storage::LogConfig{},
                         storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}})
          .value());
  StorageRaftLog raft_log{log, raft::SnapshotMeta{}, nullptr};

  std::unique_ptr<ProducerTracker> Open(ProducerTrackerOptions options = {}) {
    auto tracker = ProducerTracker::Open(&raft_log, meta.get(), kKey, options, 0);
    REQUIRE(tracker.ok());
    return std::move(*tracker);
  }

  // Writes `entries` after `after` as a Ready would: the tracker first, then the log.
  void Write(ProducerTracker& tracker, Index after, const std::vector<Entry>& entries) {
    REQUIRE(tracker.Appending(after, entries, 0).ok());
    std::promise<absl::Status> durable;
    auto done = durable.get_future();
    REQUIRE(raft_log.Append(after, entries, [&](absl::Status s) { durable.set_value(s); }).ok());
    REQUIRE(done.get().ok());
  }
};

Entry BatchEntry(Index after, int64_t term, int64_t producer, int32_t sequence) {
  return Entry{Term(term), after + 1, raft::EntryType::kNormal, IdempotentBatch(producer, sequence)};
}

TEST_CASE("producer tracker: a leader's own proposals are applied once", "[cluster][idempotence]") {
  Fixture f;
  auto tracker = f.Open();
  const std::string batch = IdempotentBatch(7, 0);
  tracker->Proposed(HeaderOf(batch), Index(1), Term(1), 0);
  CHECK(tracker->Check(HeaderOf(batch)).verdict == SequenceVerdict::kDuplicate);
  f.Write(*tracker, Index(0), {Entry{Term(1), Index(1), raft::EntryType::kNormal, batch}});
  CHECK(tracker->table().Find(7)->batches.size() == 1);
  CHECK(tracker->rebuilds() == 0);
}

TEST_CASE("producer tracker: a new leader's no-op written after its first proposal is no reason "
          "to rebuild",
          "[cluster][idempotence]") {
  Fixture f;
  auto tracker = f.Open();
  f.Write(*tracker, Index(0), {BatchEntry(Index(0), 1, 7, 0)});
  // Elected in term 2: the no-op is at index 2, a proposal at 3 comes before the Ready.
  const std::string proposal = IdempotentBatch(7, 1);
  tracker->Proposed(HeaderOf(proposal), Index(3), Term(2), 0);
  f.Write(*tracker, Index(1),
          {Entry{Term(2), Index(2), raft::EntryType::kNormal, ""},
           Entry{Term(2), Index(3), raft::EntryType::kNormal, proposal}});
  CHECK(tracker->rebuilds() == 0);
  CHECK(tracker->table().next_offset() == Offset(3));
  CHECK(tracker->Check(HeaderOf(proposal)).verdict == SequenceVerdict::kDuplicate);
}

TEST_CASE("producer tracker: entries replacing applied ones rebuild the state from the log",
          "[cluster][idempotence]") {
  Fixture f;
  auto tracker = f.Open();
  // Two batches committed in term 1.
  f.Write(*tracker, Index(0), {BatchEntry(Index(0), 1, 7, 0), BatchEntry(Index(1), 1, 7, 1)});
  SECTION("a written suffix is truncated") {
    f.Write(*tracker, Index(2), {BatchEntry(Index(2), 1, 7, 2)});
    REQUIRE(tracker->Check(HeaderOf(IdempotentBatch(7, 2))).verdict ==
            SequenceVerdict::kDuplicate);
    // A new leader's entry (term 2, another producer) replaces index 3.
    f.Write(*tracker, Index(2), {BatchEntry(Index(2), 2, 8, 0)});
    CHECK(tracker->rebuilds() == 1);
    CHECK(tracker->Check(HeaderOf(IdempotentBatch(7, 2))).verdict == SequenceVerdict::kAppend);
    CHECK(tracker->table().Find(8) != nullptr);
  }
  SECTION("a deposed leader's proposals that were never written are overwritten") {
    const std::string proposal = IdempotentBatch(7, 2);
    tracker->Proposed(HeaderOf(proposal), Index(3), Term(1), 0);
    // The new leader's entry at the same index, in a later term.
    f.Write(*tracker, Index(2), {BatchEntry(Index(2), 2, 8, 0)});
    CHECK(tracker->rebuilds() == 1);
    CHECK(tracker->Check(HeaderOf(proposal)).verdict == SequenceVerdict::kAppend);
  }
}

TEST_CASE("producer tracker: a restart reads the snapshot and the log after it",
          "[cluster][idempotence]") {
  Fixture f;
  {
    ProducerTrackerOptions options;
    options.snapshot_interval_bytes = 1;
    auto tracker = f.Open(options);
    f.Write(*tracker, Index(0), {BatchEntry(Index(0), 1, 7, 0)});
    tracker->Maintain(0, 1'000'000);  // stores a snapshot through offset 1
    f.Write(*tracker, Index(1), {BatchEntry(Index(1), 1, 7, 1), BatchEntry(Index(2), 1, 9, 0)});
  }
  REQUIRE(f.meta->Get(kKey).value().has_value());
  auto reopened = f.Open();
  CHECK(reopened->table().next_offset() == Offset(3));
  CHECK(reopened->Check(HeaderOf(IdempotentBatch(7, 1))).verdict == SequenceVerdict::kDuplicate);
  CHECK(reopened->Check(HeaderOf(IdempotentBatch(9, 0))).verdict == SequenceVerdict::kDuplicate);
  CHECK(reopened->Check(HeaderOf(IdempotentBatch(7, 2))).verdict == SequenceVerdict::kAppend);
  SECTION("a snapshot past the log's end (a lost tail) is not used") {
    ProducerStateTable ahead;
    ahead.Apply(HeaderOf(IdempotentBatch(5, 0)), Offset(100), 0);
    REQUIRE(f.meta->Put(kKey, ahead.EncodeSnapshot()).ok());
    auto again = f.Open();
    CHECK(again->table().Find(5) == nullptr);
    CHECK(again->table().Find(7) != nullptr);
  }
  SECTION("a damaged snapshot is ignored") {
    REQUIRE(f.meta->Put(kKey, "garbage").ok());
    auto again = f.Open();
    CHECK(again->table().next_offset() == Offset(3));
  }
}

}  // namespace
}  // namespace rill::cluster
