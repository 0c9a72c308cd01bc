// Partition: one topic partition hosted by this broker, and the only way into its storage Log.
// It owns produce (validation of client batches, the leader epoch stamped on every batch,
// acknowledgement by acks level), reads bounded by the high watermark, and the wake-ups of
// fetches long-polling for new data. Nothing outside reaches the Log itself.
//
// Every partition is a Raft group on its replicas (docs/replication.md) whose log is the
// partition's storage Log: the leader assigns offsets and stamps its term as the batches'
// partition leader epoch; followers write the leader's batches as they are. The high watermark
// is the commit index: nothing above it is ever read. Only a leader that has committed an entry
// of its own term serves produce answers, reads and offsets; a follower answers NOT_LEADER
// naming the leader.
//
// Errors carry rill.v1 error codes (api/error.h). Thread-safety: all methods are thread-safe.
// Callbacks run on the storage flusher thread or the calling thread and must be quick.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/ids.h"
#include "cluster/producer_tracker.h"
#include "cluster/raft_group.h"
#include "storage/log.h"

namespace rill::cluster {

// When a produce is answered (Kafka's acks).
enum class Acks {
  // At once, without an offset.
  kNone,
  // Once the leader has written the records.
  kLeader,
  // Once the records are durable (on a quorum, with replication).
  kAll,
};

struct ProduceResult {
  absl::Status status;
  // The offset of the first record; -1 on failure and for Acks::kNone.
  Offset base_offset{-1};
  // Each batch's first offset, in the order sent (empty on failure and for Acks::kNone). A
  // retried batch an idempotent producer already wrote has its original offset.
  std::vector<Offset> batch_offsets;
};

struct FetchResult {
  // OFFSET_OUT_OF_RANGE when the start is outside [log_start, high_watermark].
  absl::Status status;
  Offset log_start;
  Offset high_watermark;
  // Whole batches from the one holding the start offset, none at or past the high watermark.
  std::string batches;
  // Where the next fetch continues.
  Offset next_offset;
};

// How many bytes a fetch response may read from one partition (the max_bytes of Partition::
// Fetch; 0: none, only offsets): up to `partition_max_bytes`, within what is left of
// `response_max_bytes` after the `response_bytes` earlier partitions filled; past that budget
// only the response's first batch may still come (KIP-74: a first batch larger than the
// limits is returned whole, so a consumer always progresses).
size_t FetchBytesFor(int64_t partition_max_bytes, int64_t response_max_bytes,
                     int64_t response_bytes);

// What every replica of this broker shares.
struct ReplicaContext {
  NodeId self;
  storage::MetaStore* meta = nullptr;
  rpc::Transport* transport = nullptr;
  asio::io_context* io = nullptr;
  // Election and heartbeat ticks, limits; id and bootstrap are set per partition.
  raft::RaftConfig raft;
  // Idempotent producers (docs/idempotence.md): limits, and how long an idle producer's state
  // is kept (producer.id.expiration.ms).
  ProducerTrackerOptions producers;
  int64_t producer_id_expiration_ms = 86'400'000;
  // Called, on the ticking thread and at most about once a second per partition, by the
  // leader of a partition whose move has reached its target: the voters to report to the
  // controller (docs/replication.md, "Moving replicas").
  std::function<void(TopicId, PartitionId, std::vector<NodeId> voters)> move_done;
};

// How a partition's Raft status looks to the rest of the broker.
struct ReplicaState {
  raft::Role role = raft::Role::kFollower;
  int64_t term = 0;
  NodeId leader;
  // Leading and serving (an entry of its term committed).
  bool serving = false;
};

// Where a partition's producer state snapshot is kept in the MetaStore.
std::string ProducerStateKey(TopicId topic_id, PartitionId id);

class Partition {
 public:
  // What the metadata says of this partition beyond its log: the preferred leader (its first
  // replica) and, while it moves, the replicas it moves to and the copy throttle.
  struct Assignment {
    NodeId preferred;
    std::vector<NodeId> move_target;
    int64_t move_throttle_bytes_per_second = 0;
  };

  // Called on the broker's io_context (not the partition's strand) when this replica starts or
  // stops serving as leader.
  using LeadershipListener = std::function<void(const std::shared_ptr<Partition>&, bool serving)>;

  // Opens the Raft group of `log`, whose log begins with the members `first_members` (those
  // of a new group); the first of them campaigns at once in a group that never had a term.
  static absl::StatusOr<std::shared_ptr<Partition>> Open(std::string topic, TopicId topic_id,
                                                         PartitionId id,
                                                         std::shared_ptr<storage::Log> log,
                                                         std::vector<NodeId> first_members,
                                                         const ReplicaContext& context,
                                                         LeadershipListener listener);
  ~Partition();
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Appends the batches in `chunks` (each chunk one or more whole batches; all are validated
  // before any is written), in order, and calls `done` once `acks` is satisfied.
  void Produce(const std::vector<std::string_view>& chunks, Acks acks,
               std::function<void(ProduceResult)> done);

  // Reads up to about `max_bytes` (at least one batch when any is readable; none for 0) from
  // `start`, below the high watermark.
  FetchResult Fetch(Offset start, size_t max_bytes) const;

  // The first offset below the high watermark whose record timestamp is >= `timestamp`;
  // nullopt when there is none.
  absl::StatusOr<std::optional<Offset>> FindOffsetByTimestamp(int64_t timestamp) const;

  // Makes `offset` the first readable offset, as Kafka's DeleteRecords (nullopt: the high
  // watermark); an offset at or below the start changes nothing. OFFSET_OUT_OF_RANGE past the
  // high watermark, STORAGE_ERROR when the log cannot record it, NOT_LEADER on a follower.
  // Returns the start after. Waits for the group's strand (and the disk).
  absl::StatusOr<Offset> DeleteRecordsBefore(std::optional<Offset> offset);
  // Hands leadership to replica `to` (a voter): NOT_LEADER naming the leader on a follower,
  // INVALID_REQUEST when `to` is not a replica. Returns once the transfer has started (it
  // completes, or is abandoned, within an election timeout). Waits for the group's strand.
  absl::Status TransferLeadership(NodeId to);
  // On a serving leader that is not the preferred replica (the first in the partition's
  // replica list) while the preferred one has caught up: hands leadership back to it. Returns
  // whether it started a transfer.
  bool ReturnLeadershipToPreferred();
  NodeId preferred_replica() const;
  // Takes the metadata's latest word on the partition. While a move is set, the leader takes
  // the group toward its target one membership change per tick (cluster/replica_mover.h),
  // throttles what new replicas copy, and reports the end through ReplicaContext::move_done.
  void SetAssignment(Assignment assignment);
  Assignment assignment() const;
  // Deletes the segments retention lets go, up to the high watermark, through the Raft
  // group's compaction point (every replica does so for its own log).
  void EnforceRetention();
  // One tick of the Raft group's clock. Called from one thread at a time.
  void Tick();
  // A Raft message from a peer replica.
  void Deliver(raft::Message message) { group_->Deliver(std::move(message)); }
  // Stops the Raft group (pending produces fail) and closes nothing else. Idempotent.
  void Close();

  // Applies new topic settings to the log.
  absl::Status UpdateConfig(const storage::LogConfig& config);

  // Registers `wake` to run once the high watermark moves; returns an id for RemoveWaiter.
  uint64_t AddWaiter(std::function<void()> wake);
  void RemoveWaiter(uint64_t id);
  // Runs every registered waiter now (at shutdown).
  void WakeAll() { WakeWaiters(); }

  Offset log_start_offset() const { return log_->start_offset(); }
  // The commit index as this replica knows it (a follower's may lag the leader's).
  Offset high_watermark() const { return Offset(high_watermark_.load(std::memory_order_acquire)); }
  // The Raft term: the epoch a leader stamps on the batches it writes.
  int32_t leader_epoch() const { return static_cast<int32_t>(state().term); }
  ReplicaState state() const;
  // OK on a serving leader; NOT_LEADER naming the leader (when known) otherwise.
  absl::Status CheckServing() const;
  RaftGroupStatus raft_status() const { return group_->status(); }
  TopicId topic_id() const { return topic_id_; }
  // The largest batch a produce may carry.
  size_t max_batch_bytes() const { return log_->max_batch_bytes(); }
  storage::LogStats stats() const { return log_->stats(); }
  const std::string& topic() const { return topic_; }
  PartitionId id() const { return id_; }

 private:
  Partition(std::string topic, TopicId topic_id, PartitionId id, std::shared_ptr<storage::Log> log,
            LeadershipListener listener);
  void WakeWaiters();
  // The API error for a proposal the Raft group refused or could not complete.
  absl::Status ReplicateError(const absl::Status& status) const;
  // The Raft group's `changed` callback, on its strand.
  void OnRaftChange(const RaftGroupStatus& status);
  // What the producer state says of an idempotent batch, on the strand: nullopt to write it,
  // the index it was written at for a retried duplicate, or the error to answer.
  absl::StatusOr<std::optional<raft::Index>> AdmitIdempotent(const format::BatchHeader& header);
  // A tick's share of a move: the throttle's grant and, on the leader, the next step.
  void DriveMove();

  const std::string topic_;
  const TopicId topic_id_;
  const PartitionId id_;
  const std::shared_ptr<storage::Log> log_;
  const LeadershipListener listener_;
  std::weak_ptr<Partition> self_;
  NodeId self_id_;
  int64_t promotion_max_lag_ = 0;
  std::function<void(TopicId, PartitionId, std::vector<NodeId>)> move_done_;
  asio::io_context* io_ = nullptr;
  std::shared_ptr<RaftGroup> group_;
  // Touched only on the group's strand, once Open has set it.
  std::unique_ptr<ProducerTracker> producers_;
  int64_t producer_id_expiration_ms_ = 0;
  // Ticks until the producer state's next upkeep.
  std::atomic<int> ticks_to_upkeep_{0};
  std::atomic<int64_t> high_watermark_{0};
  mutable absl::Mutex mu_;
  ReplicaState state_ ABSL_GUARDED_BY(mu_);
  // The replica that should lead when it can (the first of the partition's replicas), and
  // any move.
  Assignment assignment_ ABSL_GUARDED_BY(mu_);
  // Touched only by Tick: when the throttle last granted bytes, whether it is on, and the
  // ticks until a step that must not repeat every tick (a transfer, a report) may run again.
  std::chrono::steady_clock::time_point last_grant_;
  bool throttling_ = false;
  int move_ticks_to_wait_ = 0;
  // A membership change proposed and not yet answered.
  std::atomic<bool> move_change_pending_{false};
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::cluster
