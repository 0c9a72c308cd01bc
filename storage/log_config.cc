#include "storage/log_config.h"

#include "base/fmt_absl.h"
#include "format/record_batch.h"

namespace rill::storage {

absl::Status LogConfig::Validate() const {
  if (segment_bytes < kMinSegmentBytes || segment_bytes > kMaxSegmentBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "segment bytes {} is outside [{}, {}]", segment_bytes, kMinSegmentBytes, kMaxSegmentBytes));
  }
  if (segment_ms <= 0) return absl::InvalidArgumentError("segment ms must be positive");
  if (retention_bytes < -1) return absl::InvalidArgumentError("retention bytes must be >= -1");
  if (retention_ms < -1) return absl::InvalidArgumentError("retention ms must be >= -1");
  if (index_interval_bytes == 0) {
    return absl::InvalidArgumentError("index interval bytes must be positive");
  }
  if (max_batch_bytes < format::kBatchHeaderBytes || max_batch_bytes > kMaxBatchBytesLimit) {
    return absl::InvalidArgumentError(fmt::format("max batch bytes {} is outside [{}, {}]",
                                                  max_batch_bytes, format::kBatchHeaderBytes,
                                                  kMaxBatchBytesLimit));
  }
  if (max_uncompressed_batch_bytes < 1024 ||
      max_uncompressed_batch_bytes > format::kMaxUncompressedBatchBytes) {
    return absl::InvalidArgumentError(
        fmt::format("max uncompressed batch bytes {} is outside [1024, {}]",
                    max_uncompressed_batch_bytes, format::kMaxUncompressedBatchBytes));
  }
  if (message_timestamp_before_max_ms < -1 || message_timestamp_after_max_ms < -1) {
    return absl::InvalidArgumentError("message timestamp windows must be >= -1 (-1: no limit)");
  }
  if (flush_interval_ms < 0) return absl::InvalidArgumentError("flush interval must be >= 0");
  return absl::OkStatus();
}

}  // namespace rill::storage
