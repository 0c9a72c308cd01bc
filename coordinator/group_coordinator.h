// GroupCoordinator: serves consumer groups from the internal topic __consumer_offsets.
//
// A group lives in partition GroupPartitionFor(group) of that topic, and its coordinator is the
// leader of that partition. Each partition has one shard: a groups::GroupStore (the rules)
// rebuilt by replaying the partition's log whenever this broker gains its leadership (and
// serves it: everything an earlier leader committed is below the high watermark then). A
// request that changes anything appends the store's records to the partition (acks=all:
// committed on a majority of replicas) and is answered once they are, so nothing acknowledged
// lives only in memory. Appends of one shard happen under its lock, in the order the store made
// the changes.
//
// A shard whose partition is led elsewhere answers NOT_COORDINATOR naming the leader. A shard
// whose append failed (leadership lost, disk error) may be ahead of its log: it answers
// COORDINATOR_NOT_AVAILABLE until it is replayed again (at once when this broker still leads).
//
// Thread-safety: all methods are thread-safe. Completion callbacks may run on the flusher's
// threads.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "cluster/topic_registry.h"
#include "groups/group_store.h"
#include "rill/v1/group.pb.h"

namespace rill::coordinator {

struct CoordinatorOptions {
  groups::GroupLimits limits;
  // offsets.topic.num.partitions: used when __consumer_offsets is created.
  int32_t offsets_topic_partitions = 16;
};

// One consumer group as the metrics show it.
struct GroupMetrics {
  std::string group;
  int32_t members = 0;
  // Records between the committed offset and the log end, summed per topic.
  std::map<std::string, int64_t> lag_by_topic;
};

class GroupCoordinator {
 public:
  // `topics` and `io` (which runs the session timer) outlive the coordinator.
  GroupCoordinator(CoordinatorOptions options, cluster::TopicRegistry* topics,
                   asio::io_context* io);
  ~GroupCoordinator();

  // Replays __consumer_offsets (which must exist: the broker creates it through the
  // controller) and starts the session timer. Calls before it answer COORDINATOR_NOT_AVAILABLE.
  absl::Status Start();
  bool started() const { return started_.load(std::memory_order_acquire); }
  // The partition manager's leadership notice (cluster::Partition::LeadershipListener): a
  // shard of __consumer_offsets attaches or detaches.
  void OnLeadership(const std::shared_ptr<cluster::Partition>& partition, bool serving);
  // Stops the session timer (waiting up to one timer interval). Idempotent. The io_context
  // must still be running.
  void Stop();

  using Done = std::function<void()>;
  // Each fills `response` (errors included) and then calls `done` exactly once.
  void Heartbeat(const v1::GroupHeartbeatRequest& request, v1::GroupHeartbeatResponse* response,
                 Done done);
  void CommitOffsets(const v1::CommitOffsetsRequest& request, v1::CommitOffsetsResponse* response,
                     Done done);
  void DeleteGroup(const v1::DeleteGroupRequest& request, v1::DeleteGroupResponse* response,
                   Done done);
  void ResetOffsets(const v1::ResetOffsetsRequest& request, v1::ResetOffsetsResponse* response,
                    Done done);
  // Read-only: answered at once.
  void FetchOffsets(const v1::FetchOffsetsRequest& request, v1::FetchOffsetsResponse* response);
  void ListGroups(v1::ListGroupsResponse* response);
  // Members and lag of every group, for /metrics.
  std::vector<GroupMetrics> Metrics();
  void DescribeGroup(const v1::DescribeGroupRequest& request, v1::DescribeGroupResponse* response);
  // The group as the store describes it (classic members' metadata and assignment bytes
  // included), and every group this broker coordinates.
  absl::StatusOr<groups::GroupDescription> Describe(const std::string& group_id);
  std::vector<groups::GroupDescription> List();

  // Kafka's classic group protocol. A JoinGroup or SyncGroup answer may be held until the
  // other members have joined (or the leader has assigned); `done` is called exactly once,
  // also when the coordinator moves or stops. A repeated join of a member whose join is held
  // answers the earlier one with REBALANCE_IN_PROGRESS.
  using JoinDone = std::function<void(groups::ClassicJoinResult)>;
  using SyncDone = std::function<void(groups::ClassicSyncResult)>;
  void JoinGroup(const std::string& group_id, const groups::ClassicJoinRequest& request,
                 JoinDone done);
  void SyncGroup(const std::string& group_id, const groups::ClassicSyncRequest& request,
                 SyncDone done);
  absl::Status ClassicHeartbeat(const std::string& group_id, const std::string& member_id,
                                int32_t generation);
  // One status per member, in order; a request-wide failure (bad group, not coordinator)
  // comes as the first argument.
  void LeaveGroup(const std::string& group_id, const std::vector<std::string>& member_ids,
                  std::function<void(absl::Status, std::vector<absl::Status>)> done);

 private:
  struct Shard {
    explicit Shard(const groups::GroupLimits& limits)
        : store(std::make_unique<groups::GroupStore>(limits)) {}
    absl::Mutex mu;
    // Replaced by a fresh one at each replay.
    std::unique_ptr<groups::GroupStore> store ABSL_GUARDED_BY(mu);
    int32_t id = 0;
    // The partition once it was hosted here (kept while led elsewhere: a request that raced a
    // change of leadership finds its append refused, not a null partition).
    std::shared_ptr<cluster::Partition> partition ABSL_GUARDED_BY(mu);
    // Why the shard does not serve (NOT_LEADER: led elsewhere); OK when it is loaded.
    absl::Status unavailable ABSL_GUARDED_BY(mu);
    // The partition leader epoch the store was replayed in.
    int64_t loaded_term ABSL_GUARDED_BY(mu) = -1;
    // Set when an append failed: the store may be ahead of the log until it is replayed.
    std::atomic<bool> stale{false};
    // Held classic JoinGroup and SyncGroup answers, by (group, member).
    std::map<std::pair<std::string, std::string>, JoinDone> held_joins ABSL_GUARDED_BY(mu);
    std::map<std::pair<std::string, std::string>, SyncDone> held_syncs ABSL_GUARDED_BY(mu);
  };

  // The shard of a group, or an error status for a bad id or an unavailable shard.
  absl::StatusOr<Shard*> ShardFor(const std::string& group_id);
  absl::Status Replay(Shard* shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard->mu);
  // Makes a shard match its partition's leadership: replays it when this broker serves the
  // partition in a term it has not loaded (or the store is stale), detaches it otherwise.
  void Attach(Shard* shard);
  // Appends `records` (if any) and calls `done` with the outcome once durable.
  void Append(Shard* shard, const std::vector<groups::GroupLogRecord>& records,
              std::function<void(absl::Status)> done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard->mu);
  // Appends `records`, then answers the held requests `released` frees, by group (with the
  // append's error if it failed).
  void AppendAndRelease(Shard* shard, const std::vector<groups::GroupLogRecord>& records,
                        std::map<std::string, groups::ClassicCompletions> released,
                        std::function<void(absl::Status)> done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard->mu);
  // Answers `result` once `records` are appended, or, when the store holds the answer, keeps
  // `done` in `held` under (group, member) until a later call releases it (a request already
  // held there is answered `replaced`).
  template <typename Result, typename Callback>
  void AnswerOrHold(Shard* shard, const std::string& group_id, const std::string& member_id,
                    std::optional<Result> result, Callback done,
                    std::map<std::pair<std::string, std::string>, Callback>* held, Result replaced,
                    const std::vector<groups::GroupLogRecord>& records,
                    groups::ClassicCompletions released) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard->mu);
  // Answers every held request of the shard with `status` (its store is being replaced).
  static void FailHeld(Shard* shard, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard->mu);
  groups::TopicCatalog Catalog() const;
  void ScheduleExpiry();
  void ExpireSessions();

  const CoordinatorOptions options_;
  cluster::TopicRegistry* const topics_;
  asio::io_context* const io_;
  // Filled by Start before `started_` is set; read only once it is.
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> started_{false};
  std::unique_ptr<asio::steady_timer> timer_;
  std::atomic<bool> stopped_{false};
  // Set while a timer wait is armed or its handler runs, so Stop can wait for it.
  absl::Mutex timer_mu_;
  bool timer_pending_ ABSL_GUARDED_BY(timer_mu_) = false;
};

}  // namespace rill::coordinator
