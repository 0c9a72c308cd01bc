#include <catch2/catch.hpp>

#include "format/murmur2.h"

using namespace rill::format;

TEST_CASE("murmur2: Kafka's reference values", "[format]") {
  // From Kafka's UtilsTest.testMurmur2 (signed 32-bit results).
  CHECK(Murmur2("21") == -973932308);
  CHECK(Murmur2("foobar") == -790332482);
  CHECK(Murmur2("a-little-bit-long-string") == -985981536);
  CHECK(Murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(Murmur2("abc") == 479470107);
}

TEST_CASE("murmur2: partition choice is toPositive(hash) % partitions", "[format]") {
  CHECK(PartitionForKey("foobar", 1) == 0);
  // -790332482 & 0x7fffffff = 1357151166
  CHECK(PartitionForKey("foobar", 10) == 1357151166 % 10);
  CHECK(PartitionForKey("21", 7) == static_cast<int32_t>((-973932308 & 0x7fffffff) % 7));
  for (int32_t n = 1; n < 50; ++n) {
    int32_t p = PartitionForKey("some key", n);
    CHECK(p >= 0);
    CHECK(p < n);
  }
}
