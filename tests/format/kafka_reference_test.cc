// Byte-for-byte compatibility with an independent encoder: kafka-python's
// DefaultRecordBatchBuilder (Debian's python3-kafka), run by kafka_reference_batches.py.
#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

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
  bool gzip = false;
  std::vector<RecordInput> records;
  std::string batch;
};

std::vector<Case> LoadCases() {
  std::string command =
      "/usr/bin/python3 " RILL_SOURCE_DIR "/tests/format/kafka_reference_batches.py";
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
      c.gzip = compression == "gzip";
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

}  // namespace

TEST_CASE(
    "kafka reference: our decoder reads kafka-python's batches and our encoder "
    "produces the same bytes",
    "[format]") {
  auto cases = LoadCases();
  REQUIRE(cases.size() >= 15);
  for (const Case& c : cases) {
    INFO("case " << c.name);
    auto header = ValidateBatch(c.batch, ValidationLimits{size_t{1} << 24});
    REQUIRE(header.ok());
    CHECK(header->record_count == static_cast<int32_t>(c.records.size()));
    CHECK(header->producer_id == c.options.producer_id);
    CHECK(header->producer_epoch == c.options.producer_epoch);
    CHECK(header->base_sequence == c.options.base_sequence);
    CHECK(header->is_transactional() == c.options.transactional);
    if (c.gzip) {
      CHECK(header->compression() == Compression::kGzip);
      continue;
    }

    RecordReader reader(c.batch, *header);
    RecordView view;
    for (const RecordInput& expected : c.records) {
      REQUIRE(reader.Next(&view));
      CHECK(header->base_timestamp + view.timestamp_delta == expected.timestamp_ms);
      CHECK(view.key.has_value() == expected.key.has_value());
      if (expected.key) CHECK(std::string(*view.key) == *expected.key);
      CHECK(view.value.has_value() == expected.value.has_value());
      if (expected.value) CHECK(std::string(*view.value) == *expected.value);
      REQUIRE(view.headers.size() == expected.headers.size());
      for (size_t i = 0; i < expected.headers.size(); ++i) {
        CHECK(std::string(view.headers[i].key) == expected.headers[i].key);
        CHECK(view.headers[i].value.has_value() == expected.headers[i].value.has_value());
      }
    }
    CHECK_FALSE(reader.Next(&view));
    CHECK(reader.status().ok());

    BatchBuilder builder(c.options);
    for (const RecordInput& r : c.records) builder.Append(r);
    std::string ours = builder.Build(0);
    CHECK(ours == c.batch);
  }
}
