#include <catch2/catch.hpp>

#include "tools/rillctl/text.h"

using namespace rill;
using namespace rill::ctl;

namespace {

ConsumerRecord Record() {
  ConsumerRecord r;
  r.topic = "t";
  r.partition = 2;
  r.offset = 41;
  r.timestamp_ms = 1000;
  r.key = "k";
  r.value = std::nullopt;
  r.headers = {{"a", "1"}, {"b", std::nullopt}};
  return r;
}

// InputFormat::Read into a copy of `start`.
absl::StatusOr<ProducerRecord> ReadRecord(const InputFormat& format, std::string_view text,
                                          ProducerRecord start = {}) {
  if (absl::Status s = format.Read(text, &start); !s.ok()) return s;
  return start;
}

}  // namespace

TEST_CASE("rillctl text: escapes", "[tools]") {
  CHECK(*Unescape("a\\tb\\nc\\r\\0\\\\\\x41\\x7e") == std::string("a\tb\nc\r\0\\A~", 10));
  CHECK(*Unescape("\\q") == "\\q");
  CHECK(*Unescape("end\\") == "end\\");
  CHECK_FALSE(Unescape("\\x4").ok());
  CHECK_FALSE(Unescape("\\xzz").ok());
}

TEST_CASE("rillctl text: kcat output format", "[tools]") {
  auto format = OutputFormat::Parse("%t/%p/%o %k(%K) %s(%S) %T [%h] 100%%\\n");
  REQUIRE(format.ok());
  CHECK(format->Format(Record(), "") == "t/2/41 k(1) (-1) 1000 [a=1,b=] 100%\n");
  CHECK(format->Format(Record(), "NULL") == "t/2/41 k(1) NULL(-1) 1000 [a=1,b=NULL] 100%\n");
  CHECK_FALSE(OutputFormat::Parse("%x").ok());
  CHECK_FALSE(OutputFormat::Parse("trailing %").ok());
}

TEST_CASE("rillctl text: JSON keeps null apart from empty and encodes non-UTF-8 bytes", "[tools]") {
  ConsumerRecord r = Record();
  r.key = "";
  CHECK(JsonRecord(r) ==
        "{\"topic\":\"t\",\"partition\":2,\"offset\":41,\"timestamp\":1000,"
        "\"timestamp_type\":\"create_time\",\"key\":\"\",\"value\":null,"
        "\"headers\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":null}]}");
  r.value = std::string("\xff\x00", 2);
  r.key = "caf\xc3\xa9\n\"";
  const std::string json = JsonRecord(r);
  CHECK_THAT(json, Catch::Contains("\"key\":\"caf\xc3\xa9\\n\\\"\""));
  CHECK_THAT(json, Catch::Contains("\"value_base64\":\"/wA=\""));
  CHECK(IsValidUtf8("plain \xe2\x82\xac"));
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  CHECK_FALSE(IsValidUtf8("\xe2\x82"));      // truncated
}

TEST_CASE("rillctl text: producer input format", "[tools]") {
  auto format = InputFormat::Parse("%k\\t%h\\t%T\\t%s");
  REQUIRE(format.ok());
  ProducerRecord start;
  start.headers = {{"from-flag", "yes"}};
  auto r = ReadRecord(*format, "key\ta=1,b\t2026-01-02T03:04:05Z\tvalue\twith tab", start);
  REQUIRE(r.ok());
  CHECK(r->key == "key");
  CHECK(r->value == "value\twith tab");
  REQUIRE(r->headers.size() == 3);
  CHECK(r->headers[0].key == "from-flag");
  r->headers.erase(r->headers.begin());
  CHECK(r->headers[0].key == "a");
  CHECK(r->headers[0].value == "1");
  CHECK(r->headers[1].value == std::nullopt);
  CHECK(r->timestamp_ms == 1767323045000);

  auto partitioned = InputFormat::Parse("%p:%v");
  REQUIRE(partitioned.ok());
  auto p = ReadRecord(*partitioned, "3:x");
  REQUIRE(p.ok());
  CHECK(p->partition == 3);
  CHECK_FALSE(p->key.has_value());
  CHECK_FALSE(ReadRecord(*partitioned, "three:x").ok());
  CHECK_FALSE(ReadRecord(*format, "no tabs").ok());
  CHECK_FALSE(InputFormat::Parse("%k%s").ok());  // nothing tells where the key ends
  CHECK_FALSE(InputFormat::Parse("%o").ok());
  auto prefixed = InputFormat::Parse("key=%k;");
  REQUIRE(prefixed.ok());
  CHECK_FALSE(ReadRecord(*prefixed, "k=1;").ok());
  CHECK(ReadRecord(*prefixed, "key=1;")->key == "1");
}

TEST_CASE("rillctl text: timestamps, durations and start offsets", "[tools]") {
  CHECK(*ParseTimestamp("1767323045000") == 1767323045000);
  CHECK(*ParseTimestamp("2026-01-02T03:04:05Z") == 1767323045000);
  CHECK(*ParseTimestamp("2026-01-02T04:04:05+01:00") == 1767323045000);
  CHECK(*ParseTimestamp("2026-01-02 03:04:05") == 1767323045000);
  CHECK(*ParseTimestamp("2026-01-02T03:04:05.250") == 1767323045250);
  CHECK(*ParseTimestamp("2026-01-02") == 1767312000000);
  CHECK_FALSE(ParseTimestamp("-5").ok());
  CHECK_FALSE(ParseTimestamp("tomorrow").ok());

  CHECK(*ParseDuration("90s") == 90'000);
  CHECK(*ParseDuration("1h30m") == 5'400'000);
  CHECK(*ParseDuration("7d") == 604'800'000);
  CHECK(*ParseDuration("PT15M") == 900'000);
  CHECK(*ParseDuration("P1DT2H") == 93'600'000);
  CHECK_FALSE(ParseDuration("").ok());
  CHECK_FALSE(ParseDuration("15").ok());
  CHECK_FALSE(ParseDuration("P1M").ok());  // months are not a fixed length
  CHECK_FALSE(ParseDuration("1w").ok());

  auto is = [](const char* text, StartOffset::Kind kind, int64_t value) {
    auto s = ParseStartOffset(text);
    INFO(text);
    REQUIRE(s.ok());
    CHECK(s->kind == kind);
    CHECK(s->value == value);
  };
  is("beginning", StartOffset::kBeginning, 0);
  is("earliest", StartOffset::kBeginning, 0);
  is("end", StartOffset::kEnd, 0);
  is("42", StartOffset::kAbsolute, 42);
  is("-10", StartOffset::kFromEnd, 10);
  is("end-3", StartOffset::kFromEnd, 3);
  is("+5", StartOffset::kFromStart, 5);
  is("start+5", StartOffset::kFromStart, 5);
  is("@2026-01-02", StartOffset::kTimestamp, 1767312000000);
  is("s@1000", StartOffset::kTimestamp, 1000);
  CHECK_FALSE(ParseStartOffset("middle").ok());
  CHECK_FALSE(ParseStartOffset("end-x").ok());
  CHECK_FALSE(ParseStartOffset("--3").ok());
}
