// Byte-for-byte compatibility with an independent encoder: kafka-python's
// DefaultRecordBatchBuilder (Debian's python3-kafka), run by kafka_reference_batches.py.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "format/compression.h"
#include "format/record_batch.h"

using namespace rill::format;

namespace {

std::optional<std::string> Bytes(const std::string& token) {
  if (token == "-") return std::nullopt;
  REQUIRE(token[0] == 'x');
  std::string out;
  for (size_t i = 1; i + 1 < token.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(token.substr(i, 2), nullptr, 16)));
  }
  return out;
}

struct Case {
  std::string name;
  BatchOptions options;
  std::vector<RecordInput> records;
  std::string batch;
};

Compression CodecNamed(const std::string& name) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                        Compression::kLz4, Compression::kZstd}) {
    if (name == CompressionName(c)) return c;
  }
  FAIL("unknown codec " << name);
  return Compression::kNone;
}

// Runs kafka_reference_batches.py with `arguments` and parses the cases it prints.
std::vector<Case> LoadCases(const std::string& arguments = "") {
  std::string command =
      "/usr/bin/python3 " RILL_SOURCE_DIR "/tests/format/kafka_reference_batches.py " + arguments;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  REQUIRE(pclose(pipe) == 0);

  std::vector<Case> cases;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "case") {
      Case c;
      int transactional;
      std::string compression;
      in >> c.name >> transactional >> c.options.producer_id >> c.options.producer_epoch >>
          c.options.base_sequence >> compression;
      c.options.transactional = transactional != 0;
      c.options.partition_leader_epoch = 0;  // kafka-python leaves it 0 for the broker to set
      c.options.compression = CodecNamed(compression);
      cases.push_back(std::move(c));
    } else if (kind == "rec") {
      RecordInput r;
      std::string key, value;
      int headers;
      in >> r.timestamp_ms >> key >> value >> headers;
      r.key = Bytes(key);
      r.value = Bytes(value);
      for (int i = 0; i < headers; ++i) {
        std::string hk, hv;
        in >> hk >> hv;
        r.headers.push_back(HeaderInput{*Bytes(hk), Bytes(hv)});
      }
      cases.back().records.push_back(std::move(r));
    } else if (kind == "batch") {
      std::string hex;
      in >> hex;
      cases.back().batch = *Bytes("x" + hex);
    }
  }
  return cases;
}

// Checks that `reader` yields exactly `expected`.
void CheckRecords(RecordReader* reader, int64_t base_timestamp,
                  const std::vector<RecordInput>& expected) {
  RecordView view;
  for (const RecordInput& want : expected) {
    REQUIRE(reader->Next(&view));
    CHECK(base_timestamp + view.timestamp_delta == want.timestamp_ms);
    CHECK(view.key.has_value() == want.key.has_value());
    if (want.key) CHECK(std::string(*view.key) == *want.key);
    CHECK(view.value.has_value() == want.value.has_value());
    if (want.value) CHECK(std::string(*view.value) == *want.value);
    REQUIRE(view.headers.size() == want.headers.size());
    for (size_t i = 0; i < want.headers.size(); ++i) {
      CHECK(std::string(view.headers[i].key) == want.headers[i].key);
      CHECK(view.headers[i].value.has_value() == want.headers[i].value.has_value());
      if (want.headers[i].value)
        CHECK(std::string(*view.headers[i].value) == *want.headers[i].value);
    }
  }
  CHECK_FALSE(reader->Next(&view));
  CHECK(reader->status().ok());
}

void CheckSameRecords(const std::vector<RecordInput>& got, const std::vector<RecordInput>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].timestamp_ms == want[i].timestamp_ms);
    CHECK(got[i].key == want[i].key);
    CHECK(got[i].value == want[i].value);
    REQUIRE(got[i].headers.size() == want[i].headers.size());
    for (size_t j = 0; j < got[i].headers.size(); ++j) {
      CHECK(got[i].headers[j].key == want[i].headers[j].key);
      CHECK(got[i].headers[j].value == want[i].headers[j].value);
    }
  }
}

}  // namespace

TEST_CASE(
    "kafka reference: our decoder reads kafka-python's batches and our encoder "
    "produces the same bytes",
    "[format]") {
  auto cases = LoadCases();
  REQUIRE(cases.size() >= 27);
  int compressed = 0;
  for (const Case& c : cases) {
    INFO("case " << c.name);
    auto header = ValidateBatch(c.batch, ValidationLimits{size_t{1} << 24});
    REQUIRE(header.ok());
    CHECK(header->record_count == static_cast<int32_t>(c.records.size()));
    CHECK(header->producer_id == c.options.producer_id);
    CHECK(header->producer_epoch == c.options.producer_epoch);
    CHECK(header->base_sequence == c.options.base_sequence);
    CHECK(header->is_transactional() == c.options.transactional);
    CHECK(header->compression() == c.options.compression);

    std::string scratch;
    auto records = BatchRecords(c.batch, *header, kMaxUncompressedBatchBytes, &scratch);
    REQUIRE(records.ok());
    RecordReader reader(*records, header->record_count);
    CheckRecords(&reader, header->base_timestamp, c.records);

    // Compressed bytes depend on the library's version and level; the records do not.
    if (c.options.compression != Compression::kNone) {
      ++compressed;
      continue;
    }
    BatchBuilder builder(c.options);
    for (const RecordInput& r : c.records) builder.Append(r);
    std::string ours = builder.Build(0);
    CHECK(ours == c.batch);
  }
  CHECK(compressed == 8);
}

TEST_CASE("kafka reference: kafka-python reads the batches we build, with every codec",
          "[format]") {
  auto cases = LoadCases();
  char path[] = "/tmp/rill-kafka-reference-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::vector<std::vector<RecordInput>> expected;
  std::vector<Compression> codecs;
  std::string lines;
  for (const Case& c : cases) {
    if (c.options.transactional) continue;
    for (Compression codec : {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                              Compression::kLz4, Compression::kZstd}) {
      BatchOptions options = c.options;
      options.compression = codec;
      BatchBuilder builder(options);
      for (const RecordInput& r : c.records) builder.Append(r);
      const std::string batch = builder.Build(0);
      for (unsigned char byte : batch) lines += fmt::format("{:02x}", byte);
      lines += "\n";
      expected.push_back(c.records);
      codecs.push_back(codec);
    }
  }
  REQUIRE(write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()));
  close(fd);
  auto decoded = LoadCases(std::string("--decode ") + path);
  unlink(path);
  REQUIRE(decoded.size() == expected.size());
  for (size_t i = 0; i < decoded.size(); ++i) {
    INFO("batch " << i << " codec " << CompressionName(codecs[i]));
    CHECK(decoded[i].options.compression == codecs[i]);
    CheckSameRecords(decoded[i].records, expected[i]);
  }
}
