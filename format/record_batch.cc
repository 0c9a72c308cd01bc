#include "format/record_batch.h"

#include <algorithm>
#include <limits>

#include "base/check.h"
#include "fmt/format.h"
#include "format/big_endian.h"
#include "format/compression.h"
#include "format/crc32c.h"
#include "format/varint.h"

namespace rill::format {

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

absl::StatusOr<BatchHeader> ParseBatchHeader(std::string_view bytes, size_t max_batch_bytes) {
  if (bytes.size() < kBatchHeaderBytes) {
    return absl::InvalidArgumentError(
        fmt::format("truncated batch header: {} of {} bytes", bytes.size(), kBatchHeaderBytes));
  }
  const char* p = bytes.data();
  BatchHeader h;
  h.magic = static_cast<int8_t>(p[kMagicPos]);
  if (h.magic != kMagicV2) {
    return absl::InvalidArgumentError(
        fmt::format("unsupported record batch magic {} (only 2 is supported)", h.magic));
  }
  h.base_offset = LoadI64(p + kBaseOffsetPos);
  h.batch_length = LoadI32(p + kBatchLengthPos);
  h.partition_leader_epoch = LoadI32(p + kLeaderEpochPos);
  h.crc = LoadU32(p + kCrcPos);
  h.attributes = LoadI16(p + kAttributesPos);
  h.last_offset_delta = LoadI32(p + kLastOffsetDeltaPos);
  h.base_timestamp = LoadI64(p + kBaseTimestampPos);
  h.max_timestamp = LoadI64(p + kMaxTimestampPos);
  h.producer_id = LoadI64(p + kProducerIdPos);
  h.producer_epoch = LoadI16(p + kProducerEpochPos);
  h.base_sequence = LoadI32(p + kBaseSequencePos);
  h.record_count = LoadI32(p + kRecordCountPos);

  if (h.batch_length < static_cast<int32_t>(kBatchHeaderBytes - kBatchLogOverheadBytes)) {
    return absl::InvalidArgumentError(
        fmt::format("batch length {} is shorter than the batch header", h.batch_length));
  }
  if (h.size_bytes() > max_batch_bytes) {
    return absl::ResourceExhaustedError(fmt::format(
        "batch of {} bytes exceeds the limit of {} bytes", h.size_bytes(), max_batch_bytes));
  }
  if (h.record_count < 0 || h.last_offset_delta < 0) {
    return absl::InvalidArgumentError(fmt::format("invalid record count {} or last offset delta {}",
                                                  h.record_count, h.last_offset_delta));
  }
  if (h.base_offset < 0) {
    return absl::InvalidArgumentError(fmt::format("negative base offset {}", h.base_offset));
  }
  if ((h.attributes & kCompressionMask) > static_cast<int16_t>(Compression::kZstd)) {
    return absl::InvalidArgumentError(
        fmt::format("unknown compression codec {}", h.attributes & kCompressionMask));
  }
  return h;
}

uint32_t ComputeBatchCrc(std::string_view batch) {
  return Crc32cExtend(0, batch.data() + kAttributesPos, batch.size() - kAttributesPos);
}

RecordReader::RecordReader(std::string_view batch, const BatchHeader& header)
    : RecordReader(batch.substr(kBatchHeaderBytes), header.record_count) {}

RecordReader::RecordReader(std::string_view records, int32_t record_count)
    : records_(records), remaining_(record_count) {}

absl::StatusOr<std::string_view> BatchRecords(std::string_view batch, const BatchHeader& header,
                                              size_t max_uncompressed_bytes, std::string* scratch) {
  const std::string_view records = batch.substr(kBatchHeaderBytes);
  if (header.compression() == Compression::kNone) return records;
  if (auto s = Decompress(header.compression(), records, max_uncompressed_bytes, scratch);
      !s.ok()) {
    return s;
  }
  return std::string_view(*scratch);
}

bool RecordReader::Next(RecordView* record) {
  if (!status_.ok()) return false;
  if (remaining_ == 0) {
    if (pos_ != records_.size()) {
      status_ = absl::InvalidArgumentError(
          fmt::format("{} bytes follow the last record of the batch", records_.size() - pos_));
    }
    return false;
  }
  const size_t record_pos = pos_;
  auto fail = [&](std::string_view why) {
    status_ = absl::InvalidArgumentError(
        fmt::format("malformed record at byte {}: {}", kBatchHeaderBytes + record_pos, why));
    return false;
  };

  ByteReader framing(records_.substr(pos_));
  int32_t length;
  if (!framing.ReadVarint(&length)) return fail(framing.error());
  std::string_view body;
  if (length < 0 || !framing.ReadBytes(static_cast<size_t>(length), &body)) {
    return fail(fmt::format("record length {} exceeds the batch", length));
  }
  pos_ += framing.position();

  ByteReader in(body);
  int32_t header_count = 0;
  in.ReadI8(&record->attributes);
  in.ReadVarlong(&record->timestamp_delta);
  in.ReadVarint(&record->offset_delta);
  if (!in.ok()) return fail(in.error());
  if (!in.ReadNullableBytes(&record->key)) return fail(fmt::format("key: {}", in.error()));
  if (!in.ReadNullableBytes(&record->value)) return fail(fmt::format("value: {}", in.error()));
  if (!in.ReadVarint(&header_count)) return fail(in.error());
  // Each header takes at least two bytes, which bounds the count before anything is reserved.
  if (header_count < 0 || static_cast<size_t>(header_count) > in.remaining() / 2) {
    return fail(fmt::format("invalid header count {}", header_count));
  }
  record->headers.clear();
  record->headers.reserve(static_cast<size_t>(header_count));
  for (int32_t i = 0; i < header_count; ++i) {
    HeaderView header;
    if (!in.ReadLengthPrefixedBytes(&header.key) || !in.ReadNullableBytes(&header.value)) {
      return fail(fmt::format("header {}: {}", i, in.error()));
    }
    record->headers.push_back(header);
  }
  if (in.remaining() != 0) {
    return fail(fmt::format("{} bytes left over inside the record", in.remaining()));
  }
  --remaining_;
  return true;
}

absl::StatusOr<BatchHeader> ValidateBatch(std::string_view batch, const ValidationLimits& limits,
                                          BatchStats* stats) {
  auto header = ParseBatchHeader(batch, limits.max_batch_bytes);
  if (!header.ok()) return header.status();
  if (header->size_bytes() != batch.size()) {
    return absl::InvalidArgumentError(
        fmt::format("batch length field says {} bytes but {} bytes were given",
                    header->size_bytes(), batch.size()));
  }
  uint32_t crc = ComputeBatchCrc(batch);
  if (crc != header->crc) {
    return absl::InvalidArgumentError(
        fmt::format("batch CRC mismatch: stored {:#010x}, computed {:#010x}", header->crc, crc));
  }
  if (header->record_count == 0) return absl::InvalidArgumentError("batch has no records");
  if (header->last_offset_delta != header->record_count - 1) {
    return absl::InvalidArgumentError(fmt::format("last offset delta {} does not match {} records",
                                                  header->last_offset_delta, header->record_count));
  }

  std::string scratch;
  auto records = BatchRecords(batch, *header, limits.max_uncompressed_bytes, &scratch);
  if (!records.ok()) return records.status();
  RecordReader reader(*records, header->record_count);
  RecordView record;
  int32_t expected_delta = 0;
  int64_t min_timestamp = header->base_timestamp;
  int64_t max_timestamp = header->base_timestamp;
  while (reader.Next(&record)) {
    if (record.offset_delta != expected_delta) {
      return absl::InvalidArgumentError(
          fmt::format("record {} has offset delta {}", expected_delta, record.offset_delta));
    }
    // Deltas are checked for overflow before they are added: both come from the wire.
    int64_t timestamp = 0;
    if (__builtin_add_overflow(header->base_timestamp, record.timestamp_delta, &timestamp)) {
      return absl::InvalidArgumentError(
          fmt::format("record {} has a timestamp delta that overflows", expected_delta));
    }
    if (expected_delta == 0 || timestamp < min_timestamp) min_timestamp = timestamp;
    if (expected_delta == 0 || timestamp > max_timestamp) max_timestamp = timestamp;
    ++expected_delta;
  }
  if (!reader.status().ok()) return reader.status();
  if (header->timestamp_type() == TimestampType::kCreateTime &&
      header->max_timestamp != max_timestamp) {
    return absl::InvalidArgumentError(
        fmt::format("batch maxTimestamp {} is not its records' largest timestamp {}",
                    header->max_timestamp, max_timestamp));
  }
  if (stats != nullptr) *stats = BatchStats{min_timestamp, max_timestamp};
  return header;
}

void SetBaseOffset(std::string* batch, size_t batch_pos, int64_t base_offset) {
  StoreI64(batch->data() + batch_pos + kBaseOffsetPos, base_offset);
}

void SetPartitionLeaderEpoch(std::string* batch, size_t batch_pos, int32_t epoch) {
  StoreI32(batch->data() + batch_pos + kLeaderEpochPos, epoch);
}

int32_t IncrementSequence(int32_t sequence, int32_t delta) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  if (sequence > kMax - delta) return delta - (kMax - sequence) - 1;
  return sequence + delta;
}

void SetProducerFields(std::string* batch, int64_t producer_id, int16_t producer_epoch,
                       int32_t base_sequence) {
  char* p = batch->data();
  StoreI64(p + kProducerIdPos, producer_id);
  StoreI16(p + kProducerEpochPos, producer_epoch);
  StoreI32(p + kBaseSequencePos, base_sequence);
  StoreU32(p + kCrcPos, ComputeBatchCrc(*batch));
}

BatchBuilder::BatchBuilder(const BatchOptions& options) : options_(options) {
  buffer_.assign(kBatchHeaderBytes, '\0');
}

void BatchBuilder::Append(const RecordInput& record) {
  std::vector<HeaderView> headers;
  headers.reserve(record.headers.size());
  for (const auto& h : record.headers) {
    headers.push_back(
        HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
  }
  Append(record.timestamp_ms,
         record.key ? std::optional<std::string_view>(*record.key) : std::nullopt,
         record.value ? std::optional<std::string_view>(*record.value) : std::nullopt, headers);
}

void BatchBuilder::Append(int64_t timestamp_ms, std::optional<std::string_view> key,
                          std::optional<std::string_view> value,
                          const std::vector<HeaderView>& headers) {
  if (record_count_ == 0) {
    base_timestamp_ = timestamp_ms;
    max_timestamp_ = timestamp_ms;
  }
  max_timestamp_ = std::max(max_timestamp_, timestamp_ms);

  // The record's length comes first, so it is computed before anything is written; the fields
  // then go straight into the batch buffer.
  auto nullable_size = [](std::optional<std::string_view> bytes) {
    return bytes ? VarlongSize(static_cast<int64_t>(bytes->size())) + bytes->size()
                 : VarlongSize(-1);
  };
  const int64_t timestamp_delta = timestamp_ms - base_timestamp_;
  size_t body = 1 + VarlongSize(timestamp_delta) + VarlongSize(record_count_) + nullable_size(key) +
                nullable_size(value) + VarlongSize(static_cast<int64_t>(headers.size()));
  for (const auto& h : headers) {
    body += VarlongSize(static_cast<int64_t>(h.key.size())) + h.key.size() + nullable_size(h.value);
  }
  auto append_nullable = [this](std::optional<std::string_view> bytes) {
    if (!bytes) {
      AppendVarint(&buffer_, -1);
      return;
    }
    AppendVarint(&buffer_, static_cast<int32_t>(bytes->size()));
    buffer_.append(*bytes);
  };
  AppendVarint(&buffer_, static_cast<int32_t>(body));
  buffer_.push_back('\0');  // record attributes: unused in v2
  AppendVarlong(&buffer_, timestamp_delta);
  AppendVarint(&buffer_, record_count_);
  append_nullable(key);
  append_nullable(value);
  AppendVarint(&buffer_, static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) {
    AppendVarint(&buffer_, static_cast<int32_t>(h.key.size()));
    buffer_.append(h.key);
    append_nullable(h.value);
  }
  ++record_count_;
}

std::string BatchBuilder::Build(int64_t base_offset) {
  if (options_.compression != Compression::kNone) {
    auto compressed =
        Compress(options_.compression, std::string_view(buffer_).substr(kBatchHeaderBytes));
    // The codecs fail only when out of memory.
    RILL_CHECK(compressed.ok());
    buffer_.resize(kBatchHeaderBytes);
    buffer_.append(*compressed);
  }
  char* p = buffer_.data();
  int16_t attributes = static_cast<int16_t>(options_.compression);
  if (options_.timestamp_type == TimestampType::kLogAppendTime) attributes |= kTimestampTypeBit;
  if (options_.transactional) attributes |= kTransactionalBit;
  if (options_.control) attributes |= kControlBit;
  StoreI64(p + kBaseOffsetPos, base_offset);
  StoreI32(p + kBatchLengthPos, static_cast<int32_t>(buffer_.size() - kBatchLogOverheadBytes));
  StoreI32(p + kLeaderEpochPos, options_.partition_leader_epoch);
  p[kMagicPos] = static_cast<char>(kMagicV2);
  StoreI16(p + kAttributesPos, attributes);
  StoreI32(p + kLastOffsetDeltaPos, record_count_ - 1);
  StoreI64(p + kBaseTimestampPos, base_timestamp_);
  StoreI64(p + kMaxTimestampPos, max_timestamp_);
  StoreI64(p + kProducerIdPos, options_.producer_id);
  StoreI16(p + kProducerEpochPos, options_.producer_epoch);
  StoreI32(p + kBaseSequencePos, options_.base_sequence);
  StoreI32(p + kRecordCountPos, record_count_);
  StoreU32(p + kCrcPos, ComputeBatchCrc(buffer_));

  std::string batch = std::move(buffer_);
  buffer_.assign(kBatchHeaderBytes, '\0');
  record_count_ = 0;
  return batch;
}

}  // namespace rill::format
