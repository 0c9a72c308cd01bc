// The codecs of RecordBatch v2 records sections, as Kafka writes them (docs/storage-format.md,
// "Compression"):
//   gzip    an RFC 1952 gzip stream (zlib)
//   snappy  the xerial (snappy-java) framing Kafka uses: an 16-byte header, then blocks of a
//           big-endian int32 length and a raw snappy block. Raw snappy without the framing is
//           also read, as other Kafka clients may write it.
//   lz4     the LZ4 frame format (liblz4's LZ4F)
//   zstd    a zstd frame
// Only the records section (bytes 61.. of a batch) is compressed; the header stays readable.
//
// Decompression is bounded: input comes from the network or disk, and a few bytes can claim
// gigabytes (a zip bomb), so every call takes the most bytes it may produce.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/record_batch.h"

namespace rill::format {

// Compresses `raw` with `codec` (kNone returns a copy). Fails only when the library does (out of
// memory), as Internal.
absl::StatusOr<std::string> Compress(Compression codec, std::string_view raw);

// Decompresses `compressed` into `*out` (replacing its contents). InvalidArgument for malformed
// input, ResourceExhausted when the result would exceed `max_bytes`.
absl::Status Decompress(Compression codec, std::string_view compressed, size_t max_bytes,
                        std::string* out);

}  // namespace rill::format
