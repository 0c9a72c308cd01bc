#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "format/crc32c.h"
#include "format/varint.h"

using namespace rill::format;

TEST_CASE("crc32c: known vectors", "[format]") {
  // RFC 3720 (iSCSI) appendix B.4 test vectors, and the classic check value.
  CHECK(Crc32c("123456789") == 0xE3069283u);
  CHECK(Crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(Crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(Crc32c(ascending) == 0x46DD794Eu);
  CHECK(Crc32c("") == 0u);
}

TEST_CASE("crc32c: hardware and portable paths agree at every length and alignment", "[format]") {
  std::mt19937 rng(7);
  std::string data(4096 + 16, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 63, 64, 100, 1000, 4096}) {
      uint32_t hw = Crc32cExtend(0, data.data() + start, len);
      uint32_t sw = Crc32cExtendPortable(0, data.data() + start, len);
      REQUIRE(hw == sw);
    }
  }
  // Extending in pieces equals one pass.
  uint32_t piecewise = Crc32cExtend(Crc32cExtend(0, data.data(), 1000), data.data() + 1000, 3000);
  CHECK(piecewise == Crc32cExtend(0, data.data(), 4000));
}

TEST_CASE("varint: round trips at the boundaries", "[format]") {
  for (int64_t v :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{63}, int64_t{64}, int64_t{-64}, int64_t{-65},
        int64_t{8191}, int64_t{8192}, int64_t{INT32_MAX}, int64_t{INT32_MIN}}) {
    std::string out;
    AppendVarint(&out, static_cast<int32_t>(v));
    CHECK(out.size() == VarlongSize(v));
    ByteReader in(out);
    int32_t decoded;
    REQUIRE(in.ReadVarint(&decoded));
    CHECK(decoded == v);
    CHECK(in.remaining() == 0);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, INT64_MAX, INT64_MIN, int64_t{1} << 40}) {
    std::string out;
    AppendVarlong(&out, v);
    CHECK(out.size() == VarlongSize(v));
    ByteReader in(out);
    int64_t decoded;
    REQUIRE(in.ReadVarlong(&decoded));
    CHECK(decoded == v);
  }
  std::string one;
  AppendVarint(&one, -1);
  CHECK(one == std::string("\x01", 1));  // zigzag: -1 -> 1, as Kafka writes null lengths
}

TEST_CASE("varint: malformed input is rejected", "[format]") {
  SECTION("truncated") {
    const std::string bytes = std::string("\x80\x80", 2);
    ByteReader in(bytes);
    int32_t v;
    CHECK_FALSE(in.ReadVarint(&v));
    CHECK(std::string(in.error()) == "truncated varint");
  }
  SECTION("too long for an int32") {
    const std::string bytes = std::string("\x80\x80\x80\x80\x80\x01", 6);
    ByteReader in(bytes);
    int32_t v;
    CHECK_FALSE(in.ReadVarint(&v));
    CHECK(std::string(in.error()) == "varint too long");
  }
  SECTION("five bytes that overflow 32 bits") {
    const std::string bytes = std::string("\xff\xff\xff\xff\x7f", 5);
    ByteReader in(bytes);
    int32_t v;
    CHECK_FALSE(in.ReadVarint(&v));
    CHECK(std::string(in.error()) == "varint overflows int32");
  }
  SECTION("ten bytes that overflow 64 bits") {
    const std::string bytes = std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
    ByteReader in(bytes);
    int64_t v;
    CHECK_FALSE(in.ReadVarlong(&v));
    CHECK(std::string(in.error()) == "varint overflows int64");
  }
  SECTION("errors are sticky") {
    const std::string bytes = std::string("\x80", 1);
    ByteReader in(bytes);
    int32_t v;
    int8_t b;
    CHECK_FALSE(in.ReadVarint(&v));
    CHECK_FALSE(in.ReadI8(&b));
    CHECK_FALSE(in.ok());
  }
}
