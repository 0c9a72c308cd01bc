// Consumer: reads records from partitions it assigns itself (Assign) or that its consumer
// group gives it (Subscribe).
//
// In a group (docs/groups.md), the broker decides which member reads which partition and moves
// partitions as members come and go; a background thread heartbeats, and Poll applies the
// changes: it calls on_revoked before a partition goes (commit there if you commit yourself),
// then on_assigned once new partitions are ready. Every record goes to one member of a group;
// every group gets every record. A newly assigned partition starts at the group's committed
// offset, else at auto_offset_reset.
//
// Delivery is at least once: with enable_auto_commit (the default) each Poll first commits the
// positions of the records returned by the previous Poll, and a revoke or Close commits too, so
// a crash re-delivers at most what came after the last commit.
//
// Position per partition starts at auto_offset_reset (latest by default, as in Kafka) and moves
// as Poll returns records; Seek moves it anywhere. A background fetcher keeps up to
// prefetch_bytes per partition ready, long-polling the brokers, so Poll rarely waits for a round
// trip. Every fetched batch's CRC is checked.
//
// Not thread-safe (like Kafka's consumer): use one Consumer from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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
  // What Poll does when an offset given to Seek is out of range (before the log start or past
  // the end): kNone, the default, makes Poll return OFFSET_OUT_OF_RANGE naming the partition,
  // the offset and the range, since an offset that does not exist is a mistake to report;
  // kEarliest or kLatest move there instead. auto_offset_reset covers every other position
  // (committed offsets, positions reached by reading), including once a sought position has
  // been read from.
  OffsetReset seek_offset_reset = OffsetReset::kNone;
  // Called on a background thread when fetching fails because a broker cannot be reached or
  // does not answer within fetch_max_wait_ms plus the request timeout (the error names it),
  // then with OK once fetching works again; once per change. The consumer
  // keeps retrying either way: this is for telling a user. Must not block or call the consumer.
  std::function<void(const absl::Status&)> on_connection_status;
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

  // group.id: needed to Subscribe and to Commit. Empty: no group.
  std::string group_id;
  // group.instance.id: static membership. A member that restarts with the same id within the
  // session timeout gets its partitions back without moving anything.
  std::string group_instance_id;
  std::string client_id = "rill-consumer";
  // enable.auto.commit and auto.commit.interval.ms.
  bool enable_auto_commit = true;
  int auto_commit_interval_ms = 5000;
  // How long this member may take to give up revoked partitions (between Polls) before the
  // group removes it; 0: the broker's default.
  int rebalance_timeout_ms = 0;
};

// Called from inside Poll (and Close / Unsubscribe), on the caller's thread.
struct RebalanceListener {
  // Partitions about to move to another member: the last chance to commit their progress.
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
  // Partitions this member now reads, positioned at their committed offsets.
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  // Partitions taken away without a chance to commit (this member was expelled: its session
  // expired or it was fenced). Another member may already be reading them.
  std::function<void(const std::vector<TopicPartition>&)> on_lost;
};

struct OffsetAndMetadata {
  // The next offset to read.
  int64_t offset = 0;
  std::string metadata;
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
  // FailedPrecondition while subscribed.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;

  // Joins group_id, reading the given topics (or every topic matching an RE2 pattern, in
  // full); replaces a previous subscription. FailedPrecondition without a group_id or with
  // partitions assigned by Assign. Membership starts in the background; Poll applies it.
  absl::Status Subscribe(const std::vector<std::string>& topics, RebalanceListener listener = {});
  absl::Status SubscribePattern(const std::string& pattern, RebalanceListener listener = {});
  // Commits (with auto-commit), gives up every partition and leaves the group.
  void Unsubscribe();

  // Commits the positions of every partition read (the offsets after the records Poll
  // returned), or the given offsets, and waits for the answer.
  absl::Status Commit();
  absl::Status Commit(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  // The same without waiting: `done` runs on a background thread with the outcome.
  void CommitAsync(std::function<void(absl::Status)> done = nullptr);
  // The group's committed offsets for `partitions` (-1: none committed).
  absl::StatusOr<std::map<TopicPartition, int64_t>> Committed(
      const std::vector<TopicPartition>& partitions);
  // This member's id and epoch in the group (empty / 0 outside one).
  std::string MemberId() const;

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

  // Commits (with auto-commit), leaves the group, stops fetching. Idempotent.
  void Close();

 private:
  explicit Consumer(std::unique_ptr<client::ConsumerImpl> impl);
  std::unique_ptr<client::ConsumerImpl> impl_;
};

}  // namespace rill
