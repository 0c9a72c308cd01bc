#include "format/record_batch.h"

#include <limits>

#include <catch2/catch.hpp>
#include <string>

#include "format/big_endian.h"
#include "format/varint.h"

using namespace rill::format;

namespace {

std::string SampleBatch() {
  BatchBuilder builder(BatchOptions{.producer_id = 9, .producer_epoch = 1, .base_sequence = 5});
  builder.Append(RecordInput{1000, "k1", "v1", {{"h", "x"}, {"n", std::nullopt}}});
  builder.Append(RecordInput{990, std::nullopt, "v2", {}});
  builder.Append(RecordInput{1005, "k3", std::nullopt, {}});
  return builder.Build(0);
}

void FixCrc(std::string* batch) { StoreU32(batch->data() + kCrcPos, ComputeBatchCrc(*batch)); }

}  // namespace

TEST_CASE("record batch: round trip", "[format]") {
  std::string batch = SampleBatch();
  auto header = ValidateBatch(batch, {});
  REQUIRE(header.ok());
  CHECK(header->record_count == 3);
  CHECK(header->last_offset_delta == 2);
  CHECK(header->base_timestamp == 1000);
  CHECK(header->max_timestamp == 1005);
  CHECK(header->producer_id == 9);
  CHECK(header->producer_epoch == 1);
  CHECK(header->base_sequence == 5);
  CHECK(header->compression() == Compression::kNone);
  CHECK(header->size_bytes() == batch.size());

  RecordReader reader(batch, *header);
  RecordView r;
  REQUIRE(reader.Next(&r));
  CHECK(r.offset_delta == 0);
  CHECK(*r.key == "k1");
  CHECK(*r.value == "v1");
  REQUIRE(r.headers.size() == 2);
  CHECK(r.headers[0].key == "h");
  CHECK(*r.headers[0].value == "x");
  CHECK_FALSE(r.headers[1].value.has_value());
  REQUIRE(reader.Next(&r));
  CHECK(r.timestamp_delta == -10);
  CHECK_FALSE(r.key.has_value());
  REQUIRE(reader.Next(&r));
  CHECK_FALSE(r.value.has_value());
  CHECK_FALSE(reader.Next(&r));
  CHECK(reader.status().ok());
}

TEST_CASE("record batch: stamping offsets and epochs keeps the CRC valid", "[format]") {
  std::string batch = SampleBatch();
  SetBaseOffset(&batch, 0, 123456789);
  SetPartitionLeaderEpoch(&batch, 0, 42);
  auto header = ValidateBatch(batch, {});
  REQUIRE(header.ok());
  CHECK(header->base_offset == 123456789);
  CHECK(header->last_offset() == 123456791);
  CHECK(header->partition_leader_epoch == 42);
}

TEST_CASE("record batch: producer fields are stamped with a new CRC", "[format]") {
  std::string batch = SampleBatch();
  SetProducerFields(&batch, 77, 3, 1000);
  auto header = ValidateBatch(batch, {});
  REQUIRE(header.ok());
  CHECK(header->producer_id == 77);
  CHECK(header->producer_epoch == 3);
  CHECK(header->base_sequence == 1000);
  SECTION("a changed field without the new CRC is refused") {
    std::string stale = SampleBatch();
    std::string stamped = batch;
    stamped.replace(kCrcPos, 4, stale.substr(kCrcPos, 4));
    CHECK_FALSE(ValidateBatch(stamped, {}).ok());
  }
}

TEST_CASE("record batch: producer sequences wrap from INT32_MAX to 0", "[format]") {
  CHECK(IncrementSequence(5, 3) == 8);
  CHECK(IncrementSequence(std::numeric_limits<int32_t>::max(), 1) == 0);
  CHECK(IncrementSequence(std::numeric_limits<int32_t>::max() - 1, 4) == 2);
}

TEST_CASE("record batch: attributes", "[format]") {
  BatchBuilder builder(BatchOptions{
      .timestamp_type = TimestampType::kLogAppendTime, .transactional = true, .control = true});
  builder.Append(RecordInput{1, "k", "v", {}});
  auto header = ValidateBatch(builder.Build(), {});
  REQUIRE(header.ok());
  CHECK(header->timestamp_type() == TimestampType::kLogAppendTime);
  CHECK(header->is_transactional());
  CHECK(header->is_control());
}

TEST_CASE("record batch: malformed batches are rejected with a clear error", "[format]") {
  std::string batch = SampleBatch();

  SECTION("bad CRC") {
    batch[batch.size() - 1] ^= 0x01;
    auto r = ValidateBatch(batch, {});
    CHECK(absl::IsInvalidArgument(r.status()));
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("CRC mismatch"));
  }
  SECTION("bad magic") {
    batch[kMagicPos] = 1;
    auto r = ValidateBatch(batch, {});
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("magic"));
  }
  SECTION("length field larger than the bytes given") {
    StoreI32(batch.data() + kBatchLengthPos, static_cast<int32_t>(batch.size()));
    auto r = ValidateBatch(batch, {});
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("length field"));
  }
  SECTION("length field shorter than a header") {
    StoreI32(batch.data() + kBatchLengthPos, 10);
    CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
               Catch::Contains("shorter than the batch header"));
  }
  SECTION("truncated header") {
    CHECK_THAT(std::string(ValidateBatch(batch.substr(0, 30), {}).status().message()),
               Catch::Contains("truncated batch header"));
  }
  SECTION("over the size limit") {
    auto r = ValidateBatch(batch, ValidationLimits{64});
    CHECK(absl::IsResourceExhausted(r.status()));
  }
  SECTION("record count larger than the records") {
    StoreI32(batch.data() + kRecordCountPos, 4);
    StoreI32(batch.data() + kLastOffsetDeltaPos, 3);
    FixCrc(&batch);
    CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
               Catch::Contains("malformed record"));
  }
  SECTION("record count smaller than the records") {
    StoreI32(batch.data() + kRecordCountPos, 2);
    StoreI32(batch.data() + kLastOffsetDeltaPos, 1);
    FixCrc(&batch);
    CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
               Catch::Contains("follow the last record"));
  }
  SECTION("last offset delta inconsistent with the count") {
    StoreI32(batch.data() + kLastOffsetDeltaPos, 7);
    FixCrc(&batch);
    CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
               Catch::Contains("last offset delta"));
  }
  SECTION("truncated record (batch cut short, lengths patched to match)") {
    batch.resize(batch.size() - 3);
    StoreI32(batch.data() + kBatchLengthPos, static_cast<int32_t>(batch.size() - 12));
    FixCrc(&batch);
    CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
               Catch::Contains("malformed record"));
  }
  SECTION("varint overflow inside a record") {
    BatchBuilder builder;
    builder.Append(RecordInput{1, "k", "v", {}});
    std::string b = builder.Build();
    // The record starts with its length varint; replace the record with overlong varints.
    std::string bad(kBatchHeaderBytes, '\0');
    bad.replace(0, kBatchHeaderBytes, b.substr(0, kBatchHeaderBytes));
    bad += std::string("\xff\xff\xff\xff\xff\xff", 6);
    StoreI32(bad.data() + kBatchLengthPos, static_cast<int32_t>(bad.size() - 12));
    FixCrc(&bad);
    CHECK_THAT(std::string(ValidateBatch(bad, {}).status().message()),
               Catch::Contains("varint too long"));
  }
  SECTION("key length past the end of the record") {
    BatchBuilder builder;
    builder.Append(RecordInput{1, "key", "v", {}});
    std::string b = builder.Build();
    // Record layout: len, attrs, tsDelta, offDelta, keyLen(=3 -> zigzag 6)...
    size_t key_len_pos = kBatchHeaderBytes + 4;
    REQUIRE(b[key_len_pos] == 6);
    b[key_len_pos] = 100;  // 50 bytes
    FixCrc(&b);
    CHECK_THAT(std::string(ValidateBatch(b, {}).status().message()),
               Catch::Contains("exceeds the remaining bytes"));
  }
  SECTION("a length below -1") {
    BatchBuilder builder;
    builder.Append(RecordInput{1, "key", "v", {}});
    std::string b = builder.Build();
    size_t key_len_pos = kBatchHeaderBytes + 4;
    b[key_len_pos] = 3;  // zigzag(-2)
    FixCrc(&b);
    CHECK_THAT(std::string(ValidateBatch(b, {}).status().message()),
               Catch::Contains("key: negative length"));
  }
  SECTION("huge header count does not allocate") {
    BatchBuilder builder;
    builder.Append(RecordInput{1, "k", "v", {}});
    std::string b = builder.Build();
    size_t header_count_pos = b.size() - 1;
    REQUIRE(b[header_count_pos] == 0);
    b[header_count_pos] = 0x7e;  // 63 headers in a 0-byte remainder
    FixCrc(&b);
    CHECK_THAT(std::string(ValidateBatch(b, {}).status().message()),
               Catch::Contains("invalid header count"));
  }
  SECTION("no records") {
    BatchBuilder builder;
    builder.Append(RecordInput{1, "k", "v", {}});
    std::string b = builder.Build().substr(0, kBatchHeaderBytes);
    StoreI32(b.data() + kBatchLengthPos, static_cast<int32_t>(kBatchHeaderBytes - 12));
    StoreI32(b.data() + kRecordCountPos, 0);
    StoreI32(b.data() + kLastOffsetDeltaPos, 0);
    FixCrc(&b);
    CHECK_THAT(std::string(ValidateBatch(b, {}).status().message()), Catch::Contains("no records"));
  }
  SECTION("random garbage never crashes") {
    std::string garbage = batch;
    for (int round = 0; round < 2000; ++round) {
      garbage = batch;
      garbage[static_cast<size_t>(round * 7919) % garbage.size()] ^=
          static_cast<char>(1 + round % 255);
      (void)ValidateBatch(garbage, {});
      (void)ValidateBatch(std::string_view(garbage).substr(0, static_cast<size_t>(round) % 90), {});
    }
  }
}
