#include "base/allocator.h"

#include <malloc.h>

#include <cstdlib>

#include "catch2/catch.hpp"

namespace rill::base {
namespace {

TEST_CASE("allocator: once tuned, megabyte buffers come from the heap, not fresh mappings",
          "[base]") {
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("the sanitizer's allocator replaces glibc's, so there is nothing to check");
#else
  TuneAllocatorForLargeBuffers();
  const auto mapped_before = mallinfo2().hblks;
  void* buffer = std::malloc(2 << 20);
  REQUIRE(buffer != nullptr);
  const auto mapped_during = mallinfo2().hblks;
  std::free(buffer);
  // glibc's default maps anything over 128 KiB separately and unmaps it on free.
  CHECK(mapped_during == mapped_before);
#endif
}

}  // namespace
}  // namespace rill::base
