// Kafka's RecordBatch v2 (magic 2): the one format in which Rill records travel and rest.
// The layout is specified in docs/storage-format.md; in short, a 61-byte header
//
//   0 baseOffset int64          27 baseTimestamp int64      53 baseSequence int32
//   8 batchLength int32         35 maxTimestamp int64       57 recordCount int32
//  12 partitionLeaderEpoch      43 producerId int64         61 records...
//  16 magic int8 (= 2)          51 producerEpoch int16
//  17 crc uint32 (CRC32C of bytes 21..end)
//  21 attributes int16
//  23 lastOffsetDelta int32
//
// followed by `recordCount` varint-framed records. All integers are big-endian. baseOffset and
// partitionLeaderEpoch lie outside the CRC so a broker can stamp them in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::format {

inline constexpr int8_t kMagicV2 = 2;
inline constexpr size_t kBatchHeaderBytes = 61;
// Bytes before the batchLength count starts (baseOffset + batchLength).
inline constexpr size_t kBatchLogOverheadBytes = 12;

inline constexpr size_t kBaseOffsetPos = 0;
inline constexpr size_t kBatchLengthPos = 8;
inline constexpr size_t kLeaderEpochPos = 12;
inline constexpr size_t kMagicPos = 16;
inline constexpr size_t kCrcPos = 17;
inline constexpr size_t kAttributesPos = 21;
inline constexpr size_t kLastOffsetDeltaPos = 23;
inline constexpr size_t kBaseTimestampPos = 27;
inline constexpr size_t kMaxTimestampPos = 35;
inline constexpr size_t kProducerIdPos = 43;
inline constexpr size_t kProducerEpochPos = 51;
inline constexpr size_t kBaseSequencePos = 53;
inline constexpr size_t kRecordCountPos = 57;

inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr int32_t kNoPartitionLeaderEpoch = -1;

enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };
enum class TimestampType : uint8_t { kCreateTime = 0, kLogAppendTime = 1 };

const char* CompressionName(Compression c);

// Attribute bits (Kafka): 0-2 compression, 3 timestamp type, 4 transactional, 5 control.
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampTypeBit = 0x08;
inline constexpr int16_t kTransactionalBit = 0x10;
inline constexpr int16_t kControlBit = 0x20;

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  // Bytes of the whole batch, header included.
  size_t size_bytes() const { return static_cast<size_t>(batch_length) + kBatchLogOverheadBytes; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  Compression compression() const {
    return static_cast<Compression>(attributes & kCompressionMask);
  }
  TimestampType timestamp_type() const {
    return (attributes & kTimestampTypeBit) ? TimestampType::kLogAppendTime
                                            : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return (attributes & kTransactionalBit) != 0; }
  bool is_control() const { return (attributes & kControlBit) != 0; }
};

// Reads the fixed header from the first kBatchHeaderBytes of `bytes` and checks what can be
// checked without the rest of the batch: magic, a batchLength that covers at least the header
// and does not exceed `max_batch_bytes`, and a sane record count. Returns DataLoss for malformed
// bytes (they came from a file or the network), never crashes.
absl::StatusOr<BatchHeader> ParseBatchHeader(std::string_view bytes, size_t max_batch_bytes);

// The CRC32C that the batch in `batch` (exactly one whole batch) should carry.
uint32_t ComputeBatchCrc(std::string_view batch);

struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// One decoded record. Views point into the batch buffer, which must outlive this.
struct RecordView {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<HeaderView> headers;
};

// Iterates the records of one batch, checking every length against the bytes left.
class RecordReader {
 public:
  // `batch` must be exactly one whole uncompressed batch whose header parsed.
  RecordReader(std::string_view batch, const BatchHeader& header);
  // `records` is a batch's records section, uncompressed (see BatchRecords).
  RecordReader(std::string_view records, int32_t record_count);

  // Fills `record` and returns true, or returns false at the end or on an error (see status()).
  bool Next(RecordView* record);
  // OK after the last record if the batch held exactly record_count well-formed records.
  const absl::Status& status() const { return status_; }

 private:
  std::string_view records_;
  size_t pos_ = 0;
  int32_t remaining_;
  absl::Status status_;
};

// The most a compressed batch's records may decompress to anywhere (a reader's limit for data
// it did not validate itself); writers may set a lower one (ValidationLimits).
inline constexpr size_t kMaxUncompressedBatchBytes = size_t{256} << 20;

// The records section of `batch` (one whole batch whose header parsed), uncompressed: a view into
// `batch` itself when it is not compressed, else into `*scratch`, which must outlive the view.
// Errors as Decompress's (compression.h).
absl::StatusOr<std::string_view> BatchRecords(std::string_view batch, const BatchHeader& header,
                                              size_t max_uncompressed_bytes, std::string* scratch);

struct ValidationLimits {
  size_t max_batch_bytes = 1 << 20;
  // Bound on what a compressed batch's records may decompress to (against zip bombs).
  size_t max_uncompressed_bytes = 64 << 20;
};

// What validation learnt from a batch's records.
struct BatchStats {
  // The smallest and largest record timestamps (base timestamp plus deltas).
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
};

// Full validation of one batch that must occupy all of `batch`: header checks, exact length,
// CRC, and that every record decodes (decompressing the records first if need be), that offset
// deltas run 0..n-1, that the records fill the (uncompressed) records section exactly and that
// the header's maxTimestamp is the records' largest (for CreateTime batches). Returns the parsed
// header, and the records' timestamps in `*stats` if given.
// Errors: InvalidArgument for malformed input, ResourceExhausted when over a size limit.
absl::StatusOr<BatchHeader> ValidateBatch(std::string_view batch, const ValidationLimits& limits,
                                          BatchStats* stats = nullptr);

// Rewrites fields that lie outside the CRC, in place.
void SetBaseOffset(std::string* batch, size_t batch_pos, int64_t base_offset);
void SetPartitionLeaderEpoch(std::string* batch, size_t batch_pos, int32_t epoch);
// An idempotent producer's `sequence` moved on by `delta` (>= 0) records, wrapping past
// INT32_MAX to 0 as Kafka's do.
int32_t IncrementSequence(int32_t sequence, int32_t delta);
// Stamps an idempotent producer's id, epoch and first sequence on the whole batch in `*batch`
// and recomputes its CRC (they lie inside it).
void SetProducerFields(std::string* batch, int64_t producer_id, int16_t producer_epoch,
                       int32_t base_sequence);

struct HeaderInput {
  std::string key;
  std::optional<std::string> value;
};

struct RecordInput {
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<HeaderInput> headers;
};

struct BatchOptions {
  Compression compression = Compression::kNone;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  bool transactional = false;
  bool control = false;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
};

// Encodes records into one batch with consecutive offset deltas. Record bytes are written as
// they are appended, so Build only fills in the header (and compresses the records, if the
// options ask for it).
class BatchBuilder {
 public:
  explicit BatchBuilder(const BatchOptions& options = {});

  void Append(const RecordInput& record);
  // Same, without copying the caller's buffers.
  void Append(int64_t timestamp_ms, std::optional<std::string_view> key,
              std::optional<std::string_view> value, const std::vector<HeaderView>& headers = {});

  // Reserves room for a batch of about `bytes`, so appends do not reallocate.
  void Reserve(size_t bytes) { buffer_.reserve(bytes); }

  int32_t record_count() const { return record_count_; }
  // Bytes of the batch Build would return now, before compression.
  size_t size_bytes() const { return buffer_.size(); }
  bool empty() const { return record_count_ == 0; }

  // Returns the finished batch and resets the builder. Precondition: at least one record.
  std::string Build(int64_t base_offset = 0);

 private:
  BatchOptions options_;
  std::string buffer_;
  int32_t record_count_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
};

}  // namespace rill::format
