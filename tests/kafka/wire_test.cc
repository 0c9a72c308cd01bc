#include "kafka/protocol/wire.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>

#include "kafka/protocol/header.h"

namespace rill::kafka {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[(static_cast<uint8_t>(c) >> 4) & 0xf];
    out += kDigits[static_cast<uint8_t>(c) & 0xf];
  }
  return out;
}

TEST_CASE("kafka wire: every primitive type round-trips, big-endian and in Kafka's encodings",
          "[kafka]") {
  std::string out;
  WireWriter w(&out);
  w.Int8(-2);
  w.Int16(-300);
  w.Int32(0x01020304);
  w.Int64(std::numeric_limits<int64_t>::min());
  w.Bool(true);
  w.Float64(0.5);
  w.Varint(-1);
  w.Varlong(std::numeric_limits<int64_t>::max());
  w.UnsignedVarint(300);
  w.String("topic", /*compact=*/false);
  w.String("topic", /*compact=*/true);
  w.NullableString(std::nullopt, false);
  w.NullableString(std::nullopt, true);
  w.Bytes(std::string("\0\1", 2), false);
  w.NullableBytes(std::nullopt, true);
  w.ArrayLength(-1, false);
  w.ArrayLength(2, true);
  w.Int8(1);
  w.Int8(2);
  w.NoTaggedFields();

  WireReader r(out);
  CHECK(r.Int8() == -2);
  CHECK(r.Int16() == -300);
  CHECK(r.Int32() == 0x01020304);
  CHECK(r.Int64() == std::numeric_limits<int64_t>::min());
  CHECK(r.Bool());
  CHECK(r.Float64() == 0.5);
  CHECK(r.Varint() == -1);
  CHECK(r.Varlong() == std::numeric_limits<int64_t>::max());
  CHECK(r.UnsignedVarint() == 300);
  CHECK(r.String(false) == "topic");
  CHECK(r.String(true) == "topic");
  CHECK_FALSE(r.NullableString(false).has_value());
  CHECK_FALSE(r.NullableString(true).has_value());
  CHECK(r.Bytes(false) == std::string("\0\1", 2));
  CHECK_FALSE(r.NullableBytes(true).has_value());
  CHECK(r.ArrayLength(false, 1, /*nullable=*/true) == -1);
  CHECK(r.ArrayLength(true, 1) == 2);
  CHECK(r.Int8() == 1);
  CHECK(r.Int8() == 2);
  r.SkipTaggedFields();
  INFO(r.status().ToString());
  CHECK(r.ok());
  CHECK(r.remaining() == 0);

  // The encodings themselves, as Kafka's protocol guide gives them.
  std::string fixed;
  WireWriter f(&fixed);
  f.Int16(-300);
  f.UnsignedVarint(300);
  f.Varint(-1);
  f.String("ab", true);
  f.NullableString(std::nullopt, false);
  CHECK(Hex(fixed) == "fed4" "ac02" "01" "03" "6162" "ffff");
}

TEST_CASE("kafka wire: a truncated input fails at the first short read and stays failed",
          "[kafka]") {
  WireReader r(std::string_view("\x00\x01\x00", 3));
  CHECK(r.Int16() == 1);
  CHECK(r.Int32() == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.status().message() == "truncated at byte 2");
  // Sticky: a read that would fit still fails, and the first reason is kept.
  CHECK(r.Int8() == 0);
  CHECK(r.status().message() == "truncated at byte 2");
}

TEST_CASE("kafka wire: lengths and counts are checked against what remains before use",
          "[kafka]") {
  SECTION("a string longer than the input") {
    WireReader r(std::string_view("\x7f\xff" "abc", 5));
    CHECK(r.String(false).empty());
    CHECK_THAT(r.status().ToString(), Catch::Contains("string longer than the bytes"));
  }
  SECTION("bytes of length 2^31 - 1") {
    WireReader r(std::string_view("\x7f\xff\xff\xff" "a", 5));
    CHECK_FALSE(r.NullableBytes(false).has_value());
    CHECK_FALSE(r.ok());
  }
  SECTION("a length below -1") {
    WireReader r(std::string_view("\xff\xfe", 2));
    r.NullableString(false);
    CHECK_THAT(r.status().ToString(), Catch::Contains("negative length"));
  }
  SECTION("null where none is allowed") {
    WireReader r(std::string_view("\x00", 1));
    r.String(true);
    CHECK_THAT(r.status().ToString(), Catch::Contains("null string"));
    WireReader a(std::string_view("\xff\xff\xff\xff", 4));
    a.ArrayLength(false, 1);
    CHECK_THAT(a.status().ToString(), Catch::Contains("null array"));
  }
  SECTION("an array count that cannot fit: refused before anything is allocated") {
    WireReader r(std::string_view("\x7f\xff\xff\xff\x00\x00\x00\x00", 8));
    CHECK(r.ArrayLength(false, 4) == 0);
    CHECK_THAT(r.status().ToString(), Catch::Contains("array longer than the bytes"));
    // Zero-size elements still count one byte each.
    WireReader zero(std::string_view("\x00\x00\x00\x05\x00", 5));
    zero.ArrayLength(false, 0);
    CHECK_FALSE(zero.ok());
  }
  SECTION("arrays together past the entry limit") {
    std::string out;
    WireWriter w(&out);
    w.ArrayLength(3, false);
    w.ArrayLength(3, false);
    out.append(16, '\0');
    WireReader r(out, /*entries_max=*/5);
    CHECK(r.ArrayLength(false, 1) == 3);
    CHECK(r.ArrayLength(false, 1) == 0);
    CHECK_THAT(r.status().ToString(), Catch::Contains("more array entries"));
  }
  SECTION("varints too long or too large") {
    WireReader r(std::string_view("\xff\xff\xff\xff\xff\x01", 6));
    r.UnsignedVarint();
    CHECK_THAT(r.status().ToString(), Catch::Contains("varint too long"));
    WireReader big(std::string_view("\xff\xff\xff\xff\x1f", 5));
    big.UnsignedVarint();
    CHECK_THAT(big.status().ToString(), Catch::Contains("overflows 32 bits"));
    WireReader longer(std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10));
    longer.Varlong();
    CHECK_THAT(longer.status().ToString(), Catch::Contains("overflows 64 bits"));
  }
  SECTION("a boolean other than 0 or 1") {
    WireReader r(std::string_view("\x02", 1));
    r.Bool();
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("kafka wire: tagged fields are skipped, in ascending order only", "[kafka]") {
  std::string out;
  WireWriter w(&out);
  w.UnsignedVarint(2);
  w.UnsignedVarint(0);  // tag 0, three bytes
  w.UnsignedVarint(3);
  w.Raw("xyz");
  w.UnsignedVarint(5);  // tag 5, one byte
  w.UnsignedVarint(1);
  w.Int8(9);
  w.Int16(0x0102);
  WireReader r(out);
  r.SkipTaggedFields();
  INFO(r.status().ToString());
  CHECK(r.ok());
  CHECK(r.Int16() == 0x0102);

  std::string backwards;
  WireWriter b(&backwards);
  b.UnsignedVarint(2);
  b.UnsignedVarint(3);
  b.UnsignedVarint(0);
  b.UnsignedVarint(1);
  b.UnsignedVarint(0);
  WireReader rb(backwards);
  rb.SkipTaggedFields();
  CHECK_THAT(rb.status().ToString(), Catch::Contains("out of order"));

  WireReader many(std::string_view("\xff\xff\x03", 3));
  many.SkipTaggedFields();
  CHECK_THAT(many.status().ToString(), Catch::Contains("more tagged fields"));
}

TEST_CASE("kafka header: v1 and v2 request headers, and the peek before either", "[kafka]") {
  RequestHeader header;
  header.api_key = 18;
  header.api_version = 3;
  header.correlation_id = 7;
  header.client_id = "rdkafka";
  for (int version : {1, 2}) {
    std::string out;
    WireWriter w(&out);
    WriteRequestHeader(header, version, w);
    w.Int8(42);
    RequestHeader peeked;
    REQUIRE(PeekRequestHeader(out, &peeked));
    CHECK(peeked.api_key == 18);
    CHECK(peeked.api_version == 3);
    CHECK(peeked.correlation_id == 7);
    WireReader r(out);
    RequestHeader read = ReadRequestHeader(r, version);
    CHECK(r.ok());
    CHECK(read.client_id == "rdkafka");
    CHECK(r.Int8() == 42);
  }
  // Header v2: the client id stays an int16-length string, then a tagged-field count.
  std::string v2;
  WireWriter w(&v2);
  WriteRequestHeader(header, 2, w);
  CHECK(Hex(v2) == "0012" "0003" "00000007" "0007" "72646b61666b61" "00");
  RequestHeader short_one;
  CHECK_FALSE(PeekRequestHeader(std::string_view("\x00\x12\x00", 3), &short_one));
  std::string response;
  WireWriter rw(&response);
  WriteResponseHeader(7, 1, rw);
  CHECK(Hex(response) == "00000007" "00");
}

}  // namespace
}  // namespace rill::kafka
