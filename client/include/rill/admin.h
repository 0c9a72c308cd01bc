// Admin: create, delete, list and describe topics, change their configs, read offsets and the
// cluster's brokers. Every call is one synchronous request with ClientOptions'
// request_timeout_ms. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rill/types.h"

namespace rill {

namespace client {
class Cluster;
}

struct NewTopic {
  std::string name;
  // 0: the broker's default (num.partitions).
  int32_t partitions = 0;
  // 0: the broker's default.
  int32_t replication_factor = 0;
  // Kafka topic config names: retention.ms, retention.bytes, segment.bytes, ...
  std::map<std::string, std::string> configs;
};

struct TopicListing {
  std::string name;
  int32_t partitions = 0;
  int32_t replication_factor = 0;
  bool internal = false;
};

struct PartitionInfo {
  int32_t partition = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> in_sync_replicas;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
  int64_t size_bytes = 0;
  int32_t segments = 0;
  // Not OK (STORAGE_ERROR) while the partition is offline: its log could not be opened.
  absl::Status error;
};

struct TopicDescription {
  std::string name;
  int32_t replication_factor = 0;
  std::vector<PartitionInfo> partitions;
  std::map<std::string, std::string> configs;
  // 32 hex digits, fixed when the topic was created (a recreated topic has a new one).
  std::string topic_id;
};

// Where a topic config's value comes from: the built-in default, the broker's setting, or the
// topic's own.
enum class ConfigSource { kDefault, kBroker, kTopic };

struct ConfigEntry {
  std::string name;
  std::string value;
  // Not set on the topic (source kDefault or kBroker).
  bool is_default = false;
  ConfigSource source = ConfigSource::kDefault;
};

// The outcome of DeleteRecords for one partition.
struct DeletedRecords {
  int32_t partition = 0;
  // The partition's first readable offset afterwards (-1 on error).
  int64_t low_watermark = -1;
  // OFFSET_OUT_OF_RANGE past the high watermark, UNKNOWN_PARTITION, STORAGE_ERROR.
  absl::Status error;
};

struct BrokerNode {
  int32_t node_id = 0;
  // Where clients connect.
  std::string host;
  int32_t port = 0;
  // Missed its session or not caught up yet: it leads nothing and its partitions are offline.
  bool fenced = false;
  int64_t broker_epoch = 0;
  // Partitions it holds a replica of, and those it leads.
  int32_t replicas = 0;
  int32_t leaders = 0;
  // A voter of the controller quorum.
  bool voter = false;
  // Being drained of its replicas; once `replicas` is 0 it can be stopped.
  bool decommissioning = false;
  // Where other brokers reach it (HOST:PORT).
  std::string inter_broker_address;
};

// One broker's part in a partition move, as the partition's leader sees it.
struct ReplicaMoveProgress {
  int32_t node_id = 0;
  // In the partition's Raft group as a voter or a learner (neither: not yet added, or
  // already removed).
  bool voter = false;
  bool learner = false;
  // The offset through which it holds the log.
  int64_t matched_offset = 0;
};

// A partition move in progress (docs/replication.md, "Moving replicas").
struct PartitionReassignment {
  std::string topic;
  int32_t partition = 0;
  // From where, to where, and how fast existing data is copied (0: unthrottled).
  std::vector<int32_t> replicas;
  std::vector<int32_t> target_replicas;
  int64_t throttle_bytes_per_second = 0;
  // From the partition's leader (-1 and empty when it could not be asked).
  int32_t leader = -1;
  int64_t leader_end_offset = -1;
  std::vector<ReplicaMoveProgress> members;
};

struct OfflinePartitionInfo {
  std::string topic;
  int32_t partition = 0;
  absl::Status error;
};

// A partition whose leader has a replica lacking committed records.
struct UnderReplicatedPartitionInfo {
  std::string topic;
  int32_t partition = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> in_sync_replicas;
};

struct ClusterDescription {
  std::string cluster_id;
  // Every registered broker, fenced ones too.
  std::vector<BrokerNode> brokers;
  // The controller quorum's leader (-1: none known) and voters.
  int32_t controller_id = -1;
  std::vector<int32_t> voters;
  // The broker that answered: its id, the last metadata offset it applied, and the offset of its
  // newest metadata snapshot (-1: none).
  int32_t answering_node = -1;
  int64_t metadata_offset = -1;
  int64_t snapshot_offset = -1;
  // Partitions that serve nothing: their log could not be opened, or they have no leader.
  std::vector<OfflinePartitionInfo> offline_partitions;
  // As the answering broker knows them (only a leader does): the partitions it leads and
  // serves, and those of them that are under-replicated. Ask each broker for the whole
  // cluster's.
  int32_t answering_leads = 0;
  std::vector<UnderReplicatedPartitionInfo> under_replicated;
};

// Which offset ListOffsets finds.
struct OffsetSpec {
  static constexpr int64_t kLatest = -1;
  static constexpr int64_t kEarliest = -2;
  // kLatest, kEarliest, or a timestamp in ms: the first offset whose record is that new.
  int64_t timestamp = kLatest;
};

struct GroupListing {
  std::string group_id;
  // Native groups: empty, stable (every member owns its target), reconciling (partitions
  // still moving). Classic groups (Kafka clients): Empty, PreparingRebalance,
  // CompletingRebalance, Stable.
  std::string state;
  int32_t members = 0;
  // "consumer" (native) or "classic" (Kafka's JoinGroup protocol, through the Kafka listener).
  std::string type;
};

struct GroupMemberDescription {
  std::string member_id;
  std::string instance_id;
  std::string client_id;
  int32_t member_epoch = 0;
  std::vector<TopicPartition> assignment;
  // Assigned to this member but still being given up by another.
  std::vector<TopicPartition> pending;
  // Classic members: the address they connected from.
  std::string client_host;
};

struct GroupPartitionLag {
  TopicPartition partition;
  int64_t committed_offset = -1;  // -1: nothing committed
  int64_t log_end_offset = -1;
  int64_t lag = 0;
  std::string member_id;  // the owner, if any
};

struct GroupDescription {
  std::string group_id;
  std::string state;
  // "consumer" or "classic" (see GroupListing). A classic group's epoch is its generation and
  // its assignor the protocol its members chose (their client-side assignor).
  std::string type;
  int32_t group_epoch = 0;
  std::string assignor;
  std::vector<GroupMemberDescription> members;
  std::vector<GroupPartitionLag> partitions;
  int64_t total_lag = 0;
};

// Where ResetGroupOffsets moves a group's committed offsets.
struct GroupOffsetTarget {
  enum Kind { kEarliest, kLatest, kOffset, kTimestamp, kShiftBy };
  Kind kind = kEarliest;
  // The offset, timestamp (ms) or shift, by kind.
  int64_t value = 0;
};

struct GroupOffsetChange {
  int32_t partition = 0;
  int64_t previous_offset = -1;  // -1: nothing was committed
  int64_t new_offset = 0;
};

class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(const ClientOptions& options);
  ~Admin();

  absl::Status CreateTopic(const NewTopic& topic, bool validate_only = false);
  absl::Status DeleteTopic(const std::string& name);
  absl::StatusOr<std::vector<TopicListing>> ListTopics(bool include_internal = false);
  absl::StatusOr<TopicDescription> DescribeTopic(const std::string& name);
  // Grows the topic to `total` partitions.
  absl::Status CreatePartitions(const std::string& topic, int32_t total);
  // Every config of the topic with its effective value.
  absl::StatusOr<std::vector<ConfigEntry>> DescribeConfigs(const std::string& topic);
  absl::Status AlterConfigs(const std::string& topic, const std::map<std::string, std::string>& set,
                            const std::vector<std::string>& remove = {});
  // Deletes the records of `topic` before the given offset of each partition (Kafka's
  // DeleteRecords; kDeleteAll: every record up to the high watermark). The call fails for an
  // unknown or internal topic; each partition has its own outcome.
  static constexpr int64_t kDeleteAll = -1;
  absl::StatusOr<std::vector<DeletedRecords>> DeleteRecords(
      const std::string& topic, const std::map<int32_t, int64_t>& before_offsets);
  // The offset per partition of `topic` (-1 where no record matches a timestamp).
  absl::StatusOr<std::map<int32_t, int64_t>> ListOffsets(const std::string& topic, OffsetSpec spec);
  absl::StatusOr<ClusterDescription> DescribeCluster();
  // Hands the leadership of `topic`'s `partition` to replica `to` and waits (up to
  // `timeout_ms`) until the metadata names it leader. Sent to the current leader, following
  // NOT_LEADER answers. INVALID_REQUEST when `to` is not a replica; REQUEST_TIMED_OUT when the
  // transfer did not complete in time (the replica may be behind or down).
  absl::Status TransferLeadership(const std::string& topic, int32_t partition, int32_t to,
                                  int timeout_ms = 10000);

  // Moving replicas (docs/replication.md, "Moving replicas"). ReassignPartition starts moving
  // `partition` to `replicas` (the preferred leader first) and returns once the move is
  // recorded; it goes on in the background (see ListReassignments). The throttle limits how
  // fast the data the partition already holds is copied to new replicas (nullopt: the
  // cluster's default; 0: unthrottled). INVALID_REPLICA_ASSIGNMENT, NOT_ENOUGH_REPLICAS,
  // REASSIGNMENT_IN_PROGRESS.
  absl::Status ReassignPartition(const std::string& topic, int32_t partition,
                                 const std::vector<int32_t>& replicas,
                                 std::optional<int64_t> throttle_bytes_per_second = std::nullopt);
  // Turns a move back to the replicas it started from. NO_REASSIGNMENT_IN_PROGRESS.
  absl::Status CancelReassignment(const std::string& topic, int32_t partition);
  // The moves in progress (of `topic`, or all), each with its leader's progress report.
  absl::StatusOr<std::vector<PartitionReassignment>> ListReassignments(
      const std::string& topic = "");
  // Drains a broker of its replicas, a few partitions at a time, so that it can be stopped;
  // RecommissionBroker stops that and turns back the moves still under way.
  absl::Status DecommissionBroker(int32_t node_id);
  absl::Status RecommissionBroker(int32_t node_id);

  // Consumer groups (docs/groups.md).
  absl::StatusOr<std::vector<GroupListing>> ListGroups();
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group_id);
  // GROUP_NOT_EMPTY while the group has members.
  absl::Status DeleteGroup(const std::string& group_id);
  // Computes the new offsets of `topic`'s partitions (all when `partitions` is empty) and, with
  // `execute`, commits them. GROUP_NOT_EMPTY while the group has members.
  absl::StatusOr<std::vector<GroupOffsetChange>> ResetGroupOffsets(
      const std::string& group_id, const std::string& topic, const std::vector<int32_t>& partitions,
      GroupOffsetTarget target, bool execute);

 private:
  explicit Admin(std::unique_ptr<client::Cluster> cluster);
  std::unique_ptr<client::Cluster> cluster_;
};

}  // namespace rill
