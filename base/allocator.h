// Process-wide allocator policy for programs that move large buffers.
#pragma once

namespace rill::base {

// Request and response buffers of a megabyte or so are allocated and freed thousands of times a
// second. With glibc's defaults each is mmapped, or the heap is trimmed back after it is freed,
// so every buffer is page-faulted and zeroed by the kernel again: a third of a busy
// consumer's CPU went there. This keeps buffers up to 4 MiB in the heap and retains up to
// 32 MiB of free heap per arena. Call it first thing in main(); it never fails the program.
void TuneAllocatorForLargeBuffers();

// Returns free heap memory to the kernel (glibc's malloc_trim), in every arena: what the tuning
// above keeps for the next busy second is given back once a server is idle. Takes time in
// proportion to the heap; call it when nothing is busy.
void ReleaseFreeMemory();

}  // namespace rill::base
