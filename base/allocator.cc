#include "base/allocator.h"

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace rill::base {

void TuneAllocatorForLargeBuffers() {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
  // Setting either value also turns off glibc's dynamic threshold adjustment.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
#endif
}

void ReleaseFreeMemory() {
#if __has_include(<malloc.h>) && defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace rill::base
