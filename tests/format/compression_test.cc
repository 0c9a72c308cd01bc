#include "format/compression.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "format/big_endian.h"

using namespace rill::format;

namespace {

const Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                               Compression::kZstd};

std::string Text(size_t bytes) {
  std::mt19937 rng(7);
  static const char* words[] = {"order ", "shipped ", "alice ", "bob ", "42 ", "\n"};
  std::string out;
  while (out.size() < bytes) out += words[rng() % 6];
  out.resize(bytes);
  return out;
}

std::string RandomBytes(size_t bytes) {
  std::mt19937 rng(11);
  std::string out(bytes, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

void FixCrc(std::string* batch) { StoreU32(batch->data() + kCrcPos, ComputeBatchCrc(*batch)); }

// A batch whose records section is `records`, with the header fields set to match a batch of
// `count` records compressed with `codec`, and a valid CRC.
std::string BatchWithRecords(Compression codec, const std::string& records, int32_t count) {
  BatchBuilder builder;
  builder.Append(RecordInput{1000, "k", "v", {}});
  std::string batch = builder.Build().substr(0, kBatchHeaderBytes) + records;
  StoreI32(batch.data() + kBatchLengthPos, static_cast<int32_t>(batch.size() - 12));
  StoreI16(batch.data() + kAttributesPos, static_cast<int16_t>(codec));
  StoreI32(batch.data() + kRecordCountPos, count);
  StoreI32(batch.data() + kLastOffsetDeltaPos, count - 1);
  FixCrc(&batch);
  return batch;
}

}  // namespace

TEST_CASE("compression: every codec round-trips", "[format]") {
  for (Compression codec : kCodecs) {
    INFO(CompressionName(codec));
    for (size_t size :
         {size_t{0}, size_t{1}, size_t{1000}, size_t{32 * 1024 + 1}, size_t{300 * 1024}}) {
      INFO("size " << size);
      for (const std::string& raw : {Text(size), RandomBytes(size)}) {
        auto compressed = Compress(codec, raw);
        REQUIRE(compressed.ok());
        std::string out = "stale";
        REQUIRE(Decompress(codec, *compressed, raw.size(), &out).ok());
        CHECK(out == raw);
      }
    }
    auto compressed = Compress(codec, Text(100000));
    REQUIRE(compressed.ok());
    CHECK(compressed->size() < 50000);
  }
}

TEST_CASE("compression: output past the limit is refused before it is held (zip bombs)",
          "[format]") {
  const std::string zeros(8 << 20, '\0');
  for (Compression codec : kCodecs) {
    INFO(CompressionName(codec));
    auto bomb = Compress(codec, zeros);
    REQUIRE(bomb.ok());
    CHECK(bomb->size() < 600 * 1024);
    std::string out;
    auto s = Decompress(codec, *bomb, 1 << 20, &out);
    CHECK(absl::IsResourceExhausted(s));
    CHECK_THAT(std::string(s.message()), Catch::Contains("more than the limit"));
    CHECK(out.capacity() <= (4u << 20));
    // One byte under the size is too little; exactly the size is enough.
    CHECK(absl::IsResourceExhausted(Decompress(codec, *bomb, zeros.size() - 1, &out)));
    CHECK(Decompress(codec, *bomb, zeros.size(), &out).ok());
    CHECK(out.size() == zeros.size());
  }
}

TEST_CASE("compression: malformed and truncated data are errors, never crashes", "[format]") {
  const std::string raw = Text(70000);
  for (Compression codec : kCodecs) {
    INFO(CompressionName(codec));
    auto compressed = Compress(codec, raw);
    REQUIRE(compressed.ok());
    std::string out;
    SECTION(std::string("garbage ") + CompressionName(codec)) {
      CHECK(absl::IsInvalidArgument(Decompress(codec, "not compressed at all", 1 << 20, &out)));
    }
    SECTION(std::string("truncated ") + CompressionName(codec)) {
      auto s = Decompress(codec, std::string_view(*compressed).substr(0, compressed->size() / 2),
                          1 << 20, &out);
      CHECK(absl::IsInvalidArgument(s));
    }
    SECTION(std::string("flipped bytes ") + CompressionName(codec)) {
      for (int round = 0; round < 300; ++round) {
        std::string bad = *compressed;
        bad[static_cast<size_t>(round * 7919) % bad.size()] ^= static_cast<char>(1 + round % 255);
        auto s = Decompress(codec, bad, 1 << 20, &out);
        if (s.ok()) CHECK(out.size() <= (1u << 20));
      }
    }
  }
}

TEST_CASE("compression: snappy reads raw blocks as well as the xerial framing", "[format]") {
  auto framed = Compress(Compression::kSnappy, Text(5000));
  REQUIRE(framed.ok());
  CHECK(framed->substr(1, 6) == "SNAPPY");
  // The first block of a framed stream, without the framing, is raw snappy.
  const int32_t length = LoadI32(framed->data() + 16);
  std::string out;
  REQUIRE(Decompress(Compression::kSnappy, framed->substr(20, static_cast<size_t>(length)), 1 << 20,
                     &out)
              .ok());
  CHECK(out == Text(5000));
}

TEST_CASE("record batch: compressed batches are built, validated and read", "[format]") {
  for (Compression codec : kCodecs) {
    INFO(CompressionName(codec));
    BatchBuilder builder(BatchOptions{.compression = codec});
    for (int i = 0; i < 100; ++i) {
      builder.Append(
          RecordInput{5000 - i, "key-" + std::to_string(i), Text(200), {{"h", std::to_string(i)}}});
    }
    const std::string batch = builder.Build(0);
    BatchStats stats;
    auto header = ValidateBatch(batch, {}, &stats);
    REQUIRE(header.ok());
    CHECK(header->compression() == codec);
    CHECK(header->record_count == 100);
    CHECK(stats.min_timestamp == 4901);
    CHECK(stats.max_timestamp == 5000);
    CHECK(batch.size() < 100 * 200);

    std::string scratch;
    auto records = BatchRecords(batch, *header, kMaxUncompressedBatchBytes, &scratch);
    REQUIRE(records.ok());
    RecordReader reader(*records, header->record_count);
    RecordView record;
    int i = 0;
    while (reader.Next(&record)) {
      CHECK(std::string(*record.key) == "key-" + std::to_string(i));
      CHECK(header->base_timestamp + record.timestamp_delta == 5000 - i);
      ++i;
    }
    CHECK(reader.status().ok());
    CHECK(i == 100);
    CHECK(absl::IsResourceExhausted(
        ValidateBatch(batch, ValidationLimits{.max_uncompressed_bytes = 1000}).status()));
  }
}

TEST_CASE("record batch: compressed batches that lie are rejected", "[format]") {
  for (Compression codec : kCodecs) {
    INFO(CompressionName(codec));
    SECTION(std::string("garbage with a valid CRC ") + CompressionName(codec)) {
      auto s = ValidateBatch(BatchWithRecords(codec, "garbage, not compressed", 1), {}).status();
      CHECK(absl::IsInvalidArgument(s));
      CHECK_THAT(std::string(s.message()), Catch::Contains("malformed"));
    }
    SECTION(std::string("a record count the records do not have ") + CompressionName(codec)) {
      BatchBuilder one;
      one.Append(RecordInput{1000, "k", "v", {}});
      const std::string records = one.Build().substr(kBatchHeaderBytes);
      auto compressed = Compress(codec, records);
      REQUIRE(compressed.ok());
      auto s = ValidateBatch(BatchWithRecords(codec, *compressed, INT32_MAX), {}).status();
      CHECK(absl::IsInvalidArgument(s));
      CHECK(ValidateBatch(BatchWithRecords(codec, *compressed, 1), {}).ok());
    }
  }
}

TEST_CASE("record batch: a maxTimestamp that is not the records' largest is rejected", "[format]") {
  BatchBuilder builder;
  builder.Append(RecordInput{1000, "k", "v", {}});
  builder.Append(RecordInput{1200, "k", "v", {}});
  std::string batch = builder.Build();
  REQUIRE(ValidateBatch(batch, {}).ok());
  StoreI64(batch.data() + kMaxTimestampPos, 1100);
  FixCrc(&batch);
  CHECK_THAT(std::string(ValidateBatch(batch, {}).status().message()),
             Catch::Contains("maxTimestamp"));
}
