#include "api/error.h"
#include "format/record_batch.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

// The special timestamps of ListOffsets.
constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

// The timestamp of the record at `offset` (Kafka answers a lookup by time with the timestamp of
// the record it found), or -1 when it cannot be read.
int64_t TimestampAt(const cluster::Partition& partition, Offset offset) {
  const cluster::FetchResult fetched = partition.Fetch(offset, 1);
  if (!fetched.status.ok()) return -1;
  std::string_view bytes = fetched.batches;
  while (!bytes.empty()) {
    auto header = format::ParseBatchHeader(bytes, bytes.size());
    if (!header.ok() || header->size_bytes() > bytes.size()) return -1;
    const std::string_view batch = bytes.substr(0, header->size_bytes());
    bytes.remove_prefix(header->size_bytes());
    if (header->last_offset() < offset.value()) continue;
    if (header->timestamp_type() == format::TimestampType::kLogAppendTime) {
      return header->max_timestamp;
    }
    std::string scratch;
    auto records =
        format::BatchRecords(batch, *header, format::kMaxUncompressedBatchBytes, &scratch);
    if (!records.ok()) return -1;
    format::RecordReader reader(*records, header->record_count);
    format::RecordView record;
    while (reader.Next(&record)) {
      if (header->base_offset + record.offset_delta >= offset.value()) {
        return header->base_timestamp + record.timestamp_delta;
      }
    }
    return -1;
  }
  return -1;
}

void Answer(KafkaContext& context, const std::string& topic, const ListOffsetsPartition& want,
            ListOffsetsPartitionResponse* got) {
  got->partition_index = want.partition_index;
  auto partition = context.topics->GetPartition(topic, want.partition_index);
  if (partition.ok()) {
    if (absl::Status s = (*partition)->CheckServing(); !s.ok()) partition = s;
  }
  if (!partition.ok()) {
    got->error_code = ErrorCode(partition.status());
    return;
  }
  got->leader_epoch = (*partition)->leader_epoch();
  if (want.timestamp == kLatest) {
    got->offset = (*partition)->high_watermark().value();
  } else if (want.timestamp == kEarliest) {
    got->offset = (*partition)->log_start_offset().value();
  } else if (want.timestamp < 0) {
    // -3 (the record with the largest timestamp) and the tiered-storage ones are not served.
    got->error_code = Code(KafkaError::kInvalidRequest);
  } else {
    auto found = (*partition)->FindOffsetByTimestamp(want.timestamp);
    if (!found.ok()) {
      got->error_code = ErrorCode(found.status());
    } else if (found->has_value()) {
      got->offset = (*found)->value();
      got->timestamp = TimestampAt(**partition, **found);
    }
  }
}

}  // namespace

absl::Status ListOffsets(KafkaContext& context, const Request& request, WireReader& body,
                         Respond respond) {
  const int16_t version = request.header.api_version;
  ListOffsetsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  ListOffsetsResponse out;
  for (const ListOffsetsTopic& topic : in.topics) {
    ListOffsetsTopicResponse& topic_out = out.topics.emplace_back();
    topic_out.name = topic.name;
    for (const ListOffsetsPartition& want : topic.partitions) {
      Answer(context, topic.name, want, &topic_out.partitions.emplace_back());
    }
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
