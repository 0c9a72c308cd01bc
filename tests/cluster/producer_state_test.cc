#include "cluster/producer_state.h"

#include <limits>

#include "catch2/catch.hpp"

namespace rill::cluster {
namespace {

constexpr int32_t kMaxSequence = std::numeric_limits<int32_t>::max();

format::BatchHeader Batch(int64_t producer, int16_t epoch, int32_t first_sequence,
                          int32_t records) {
  format::BatchHeader h;
  h.producer_id = producer;
  h.producer_epoch = epoch;
  h.base_sequence = first_sequence;
  h.last_offset_delta = records - 1;
  h.record_count = records;
  return h;
}

// Writes `header` at the table's next offset, as a log would, and returns that offset.
Offset Write(ProducerStateTable& table, const format::BatchHeader& header, int64_t now_ms = 0) {
  const Offset at = table.next_offset();
  table.Apply(header, at, now_ms);
  return at;
}

TEST_CASE("producer state: sequences wrap from INT32_MAX to 0", "[cluster][idempotence]") {
  CHECK(IncrementSequence(0, 1) == 1);
  CHECK(IncrementSequence(kMaxSequence - 1, 1) == kMaxSequence);
  CHECK(IncrementSequence(kMaxSequence, 1) == 0);
  CHECK(IncrementSequence(kMaxSequence - 2, 5) == 2);
}

TEST_CASE("producer state: a new producer starts at sequence 0", "[cluster][idempotence]") {
  ProducerStateTable table;
  CHECK(table.Check(Batch(7, 0, 0, 3)).verdict == SequenceVerdict::kAppend);
  SECTION("any other first sequence cannot be told from a retry of a forgotten batch") {
    CHECK(table.Check(Batch(7, 0, 5, 1)).verdict == SequenceVerdict::kUnknownProducer);
  }
}

TEST_CASE("producer state: each of the last five batches is a duplicate with its offsets",
          "[cluster][idempotence]") {
  ProducerStateTable table;
  std::vector<ProducerBatch> written;
  int32_t sequence = 0;
  for (int i = 0; i < 7; ++i) {
    const int32_t records = 1 + i % 3;
    auto header = Batch(7, 0, sequence, records);
    REQUIRE(table.Check(header).verdict == SequenceVerdict::kAppend);
    // Another producer's batch in between moves the offsets on.
    Write(table, Batch(8, 0, i, 1));
    const Offset at = Write(table, header);
    written.push_back({sequence, sequence + records - 1, at, Offset(at.value() + records - 1)});
    sequence += records;
  }
  for (size_t i = written.size() - ProducerStateTable::kBatchesPerProducer; i < written.size();
       ++i) {
    const ProducerBatch& w = written[i];
    auto check = table.Check(Batch(7, 0, w.first_sequence, w.last_sequence - w.first_sequence + 1));
    INFO("batch " << i);
    CHECK(check.verdict == SequenceVerdict::kDuplicate);
    CHECK(check.original == w);
  }
  SECTION("a batch older than the last five is out of order, never written again") {
    const ProducerBatch& old = written[0];
    CHECK(table.Check(Batch(7, 0, old.first_sequence, old.last_sequence - old.first_sequence + 1))
              .verdict == SequenceVerdict::kOutOfOrder);
  }
  SECTION("a batch overlapping a written one without matching it is out of order") {
    const ProducerBatch& last = written.back();
    CHECK(table.Check(Batch(7, 0, last.first_sequence, 9)).verdict ==
          SequenceVerdict::kOutOfOrder);
  }
}

TEST_CASE("producer state: a gap is out of order and names the expected sequence",
          "[cluster][idempotence]") {
  ProducerStateTable table;
  Write(table, Batch(7, 0, 0, 4));
  auto check = table.Check(Batch(7, 0, 5, 1));
  CHECK(check.verdict == SequenceVerdict::kOutOfOrder);
  CHECK(check.expected_sequence == 4);
  CHECK(table.Check(Batch(7, 0, 4, 1)).verdict == SequenceVerdict::kAppend);
}

TEST_CASE("producer state: epochs fence and restart sequences", "[cluster][idempotence]") {
  ProducerStateTable table;
  Write(table, Batch(7, 3, 0, 2));
  SECTION("an older epoch is fenced") {
    auto check = table.Check(Batch(7, 2, 2, 1));
    CHECK(check.verdict == SequenceVerdict::kFenced);
    CHECK(check.current_epoch == 3);
  }
  SECTION("a newer epoch must start at 0, and then replaces the old one") {
    CHECK(table.Check(Batch(7, 4, 2, 1)).verdict == SequenceVerdict::kOutOfOrder);
    REQUIRE(table.Check(Batch(7, 4, 0, 1)).verdict == SequenceVerdict::kAppend);
    Write(table, Batch(7, 4, 0, 1));
    CHECK(table.Find(7)->epoch == 4);
    CHECK(table.Find(7)->batches.size() == 1);
    CHECK(table.Check(Batch(7, 3, 2, 1)).verdict == SequenceVerdict::kFenced);
  }
}

TEST_CASE("producer state: sequences continue across the wrap at 2^31", "[cluster][idempotence]") {
  // A producer that has sent nearly 2^31 records: its last batch ends at INT32_MAX.
  ProducerStateTable wrap;
  wrap.Apply(Batch(7, 0, kMaxSequence - 9, 10), Offset(0), 0);
  REQUIRE(wrap.Find(7)->batches.back().last_sequence == kMaxSequence);
  CHECK(wrap.Check(Batch(7, 0, 0, 5)).verdict == SequenceVerdict::kAppend);
  wrap.Apply(Batch(7, 0, 0, 5), wrap.next_offset(), 0);
  SECTION("a batch that itself wraps is remembered by its wrapped last sequence") {
    ProducerStateTable t;
    t.Apply(Batch(7, 0, kMaxSequence - 1, 4), Offset(0), 0);
    CHECK(t.Find(7)->batches.back().last_sequence == 1);
    CHECK(t.Check(Batch(7, 0, 2, 1)).verdict == SequenceVerdict::kAppend);
    CHECK(t.Check(Batch(7, 0, kMaxSequence - 1, 4)).verdict == SequenceVerdict::kDuplicate);
  }
  CHECK(wrap.Check(Batch(7, 0, 0, 5)).verdict == SequenceVerdict::kDuplicate);
  CHECK(wrap.Check(Batch(7, 0, kMaxSequence - 9, 10)).verdict == SequenceVerdict::kDuplicate);
  CHECK(wrap.Check(Batch(7, 0, 5, 1)).verdict == SequenceVerdict::kAppend);
}

TEST_CASE("producer state: a batch is applied once, however often it is seen",
          "[cluster][idempotence]") {
  ProducerStateTable table;
  table.Apply(Batch(7, 0, 0, 2), Offset(0), 0);
  // The leader applied it when proposing; its own log write shows it again.
  table.Apply(Batch(7, 0, 0, 2), Offset(0), 0);
  CHECK(table.Find(7)->batches.size() == 1);
  CHECK(table.next_offset() == Offset(2));
  SECTION("batches without a producer id only move the applied point") {
    format::BatchHeader plain;
    plain.last_offset_delta = 9;
    table.Apply(plain, Offset(2), 0);
    CHECK(table.next_offset() == Offset(12));
    CHECK(table.size() == 1);
  }
}

TEST_CASE("producer state: idle producers expire, and then cannot be confused with new ones",
          "[cluster][idempotence]") {
  ProducerStateTable table;
  Write(table, Batch(7, 0, 0, 3), 1000);
  Write(table, Batch(8, 0, 0, 1), 5000);
  CHECK(table.Expire(5999, 5000) == 0);
  CHECK(table.Expire(6000, 5000) == 1);
  CHECK(table.Find(7) == nullptr);
  CHECK(table.Find(8) != nullptr);
  // The expired producer's next batch, or a retry of one of its written batches, is refused:
  // the table cannot tell a retry from new data.
  CHECK(table.Check(Batch(7, 0, 3, 1)).verdict == SequenceVerdict::kUnknownProducer);
  CHECK(table.Check(Batch(7, 0, 1, 2)).verdict == SequenceVerdict::kUnknownProducer);
}

TEST_CASE("producer state: over the limit the least recently written producer is forgotten",
          "[cluster][idempotence]") {
  ProducerStateTable table(ProducerStateLimits{.producers_max = 3});
  for (int64_t id = 1; id <= 3; ++id) Write(table, Batch(id, 0, 0, 1), id * 10);
  Write(table, Batch(1, 0, 1, 1), 100);
  Write(table, Batch(4, 0, 0, 1), 110);
  CHECK(table.size() == 3);
  CHECK(table.Find(2) == nullptr);
  CHECK(table.Find(1) != nullptr);
}

TEST_CASE("producer state: rebuilt from a log cut back, it forgets the cut batches",
          "[cluster][idempotence]") {
  // The log: three batches of producer 7, then the last one truncated (never committed).
  std::vector<std::pair<format::BatchHeader, Offset>> log;
  ProducerStateTable table;
  for (int32_t seq = 0; seq < 3; ++seq) {
    auto header = Batch(7, 0, seq * 2, 2);
    log.emplace_back(header, Write(table, header));
  }
  log.pop_back();
  ProducerStateTable rebuilt;
  for (const auto& [header, at] : log) rebuilt.Apply(header, at, 0);
  CHECK(rebuilt.next_offset() == Offset(4));
  CHECK(rebuilt.Check(Batch(7, 0, 4, 2)).verdict == SequenceVerdict::kAppend);
  CHECK(table.Check(Batch(7, 0, 4, 2)).verdict == SequenceVerdict::kDuplicate);
}

TEST_CASE("producer state: snapshots round-trip and refuse damage", "[cluster][idempotence]") {
  ProducerStateTable table;
  for (int64_t id = 1; id <= 4; ++id) {
    for (int32_t seq = 0; seq < static_cast<int32_t>(id) * 2; ++seq) {
      Write(table, Batch(id, static_cast<int16_t>(id), seq, 1), 1000 + id);
    }
  }
  const std::string bytes = table.EncodeSnapshot();
  auto decoded = ProducerStateTable::DecodeSnapshot(bytes, {});
  REQUIRE(decoded.ok());
  CHECK(decoded->next_offset() == table.next_offset());
  REQUIRE(decoded->size() == 4);
  for (int64_t id = 1; id <= 4; ++id) {
    CHECK(decoded->Find(id)->epoch == table.Find(id)->epoch);
    CHECK(decoded->Find(id)->last_write_ms == table.Find(id)->last_write_ms);
    CHECK(decoded->Find(id)->batches == table.Find(id)->batches);
  }
  SECTION("truncated") {
    for (size_t cut : {size_t{0}, size_t{3}, size_t{19}, bytes.size() - 1}) {
      INFO(cut);
      CHECK(absl::IsDataLoss(
          ProducerStateTable::DecodeSnapshot(bytes.substr(0, cut), {}).status()));
    }
  }
  SECTION("trailing bytes") {
    CHECK(absl::IsDataLoss(ProducerStateTable::DecodeSnapshot(bytes + "x", {}).status()));
  }
  SECTION("an unknown version") {
    std::string other = bytes;
    other[7] = 9;
    CHECK(absl::IsDataLoss(ProducerStateTable::DecodeSnapshot(other, {}).status()));
  }
  SECTION("more producers than the limit") {
    CHECK(absl::IsDataLoss(
        ProducerStateTable::DecodeSnapshot(bytes, ProducerStateLimits{.producers_max = 3})
            .status()));
  }
}

}  // namespace
}  // namespace rill::cluster
