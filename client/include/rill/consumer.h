// Consumer: reads records from assigned partitions (consumer groups come later).
//
// Position per partition starts at auto_offset_reset (latest by default, as in Kafka) and moves
// as Poll returns records; Seek moves it anywhere. A background fetcher keeps up to
// prefetch_bytes per partition ready, long-polling the brokers, so Poll rarely waits for a round
// trip. Every fetched batch's CRC is checked.
//
// Not thread-safe (like Kafka's consumer): use one Consumer from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rill/types.h"

namespace rill {

namespace client {
class ConsumerImpl;
}

enum class OffsetReset { kLatest, kEarliest, kNone };

struct ConsumerOptions {
  ClientOptions client;
  // auto.offset.reset: where to start without a position, and what to do when the position is
  // out of range (kNone: Poll returns OFFSET_OUT_OF_RANGE).
  OffsetReset auto_offset_reset = OffsetReset::kLatest;
  // fetch.max.wait.ms and fetch.min.bytes of each long-poll.
  int fetch_max_wait_ms = 500;
  int fetch_min_bytes = 1;
  // max.partition.fetch.bytes and fetch.max.bytes.
  int max_partition_fetch_bytes = 1 << 20;
  int fetch_max_bytes = 50 << 20;
  // max.poll.records
  size_t max_poll_records = 500;
  // Fetched but not yet polled bytes per partition before the fetcher pauses it.
  size_t prefetch_bytes = 4 << 20;
};

enum class TimestampType { kCreateTime, kLogAppendTime };

struct ConsumerRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
};

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const ConsumerOptions& options);
  ~Consumer();

  // Replaces the assignment. UNKNOWN_TOPIC / UNKNOWN_PARTITION if any does not exist.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;

  absl::Status Seek(const TopicPartition& partition, int64_t offset);
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions);
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions);
  // To the first offset whose record is at least `timestamp_ms` old (the end if none is).
  absl::Status SeekToTimestamp(const TopicPartition& partition, int64_t timestamp_ms);
  // The offset of the next record Poll returns for `partition`.
  absl::StatusOr<int64_t> Position(const TopicPartition& partition);

  // Returns available records (at most max_poll_records), waiting up to `timeout_ms` for
  // some. An empty vector means none arrived in time. Errors: a partition whose data failed its
  // CRC (DataLoss), OFFSET_OUT_OF_RANGE with OffsetReset::kNone, or the cluster unreachable.
  absl::StatusOr<std::vector<ConsumerRecord>> Poll(int timeout_ms);

  void Close();

 private:
  explicit Consumer(std::unique_ptr<client::ConsumerImpl> impl);
  std::unique_ptr<client::ConsumerImpl> impl_;
};

}  // namespace rill
