// GroupStore: the consumer groups of one __consumer_offsets partition, and every rule about
// them (the model of Kafka's KIP-848).
//
// Every change is returned as records for the partition's log; the store's state is exactly
// what replaying those records (Apply) rebuilds, so nothing about a group lives only in
// memory. The caller appends the records before answering. Pure: no I/O, no clock (times are
// passed in), no threads (the caller serializes calls).
//
// Membership: a member joins with epoch 0, heartbeats with its subscription and the partitions
// it owns, and gets back the partitions it should own. Any change of members, subscriptions or
// subscribed topics' partitions bumps the group epoch and recomputes the target assignment.
// Members reconcile towards it incrementally: a member first gives up what it owns outside its
// target (revoke), acknowledges that by heartbeating without them, and only then receives its
// new partitions, each only once no other member still owns it. Member epochs fence zombies.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "groups/classic_group.h"
#include "groups/types.h"

namespace rill::groups {

// One record of __consumer_offsets: serialized GroupRecordKey and value (none: tombstone).
struct GroupLogRecord {
  std::string key;
  std::optional<std::string> value;
};

struct GroupLimits {
  int32_t session_timeout_ms = 45000;
  int32_t heartbeat_interval_ms = 5000;
  // The interval for a member whose partitions are still moving (it waits for partitions
  // others are giving up, or has some to give up): the next step comes sooner.
  int32_t reconciling_heartbeat_interval_ms = 250;
  int32_t default_rebalance_timeout_ms = 60000;
  int32_t max_rebalance_timeout_ms = 300000;
  size_t max_metadata_bytes = 4096;
  size_t max_members = 1000;
  size_t max_subscribed_topics = 1000;
  std::string default_assignor = "uniform";
  // Groups without members whose last commit is older than this are deleted; <= 0: never.
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  ClassicLimits classic;
};

struct HeartbeatRequest {
  std::string group_id;
  std::string member_id;
  int32_t member_epoch = 0;
  std::string instance_id;
  std::string client_id;
  int32_t rebalance_timeout_ms = 0;
  std::vector<std::string> subscribed_topics;
  std::string subscribed_regex;
  PartitionSet owned;
};

struct HeartbeatResponse {
  std::string member_id;
  int32_t member_epoch = 0;
  int32_t heartbeat_interval_ms = 0;
  PartitionSet assignment;
};

struct OffsetCommit {
  TopicPartition partition;
  int64_t offset = 0;
  std::string metadata;
};

struct CommittedOffset {
  int64_t offset = -1;
  std::string metadata;
  int64_t commit_time_ms = 0;
};

struct MemberDescription {
  std::string member_id;
  std::string instance_id;
  std::string client_id;
  int32_t member_epoch = 0;
  std::vector<std::string> subscribed_topics;
  std::string subscribed_regex;
  PartitionSet assigned;
  // In the member's target but still owned by another member (or being revoked by it).
  PartitionSet pending;
  // Classic members: where they connected from, their metadata for the group's protocol and
  // the assignment bytes their leader gave them (`assigned` is read from those when the
  // protocol type is "consumer").
  std::string client_host;
  std::string metadata;
  std::string assignment_bytes;
};

struct GroupDescription {
  std::string group_id;
  // Native groups: empty, stable, reconciling. Classic groups: Kafka's state names.
  std::string state;
  // "consumer" (native) or "classic".
  std::string type;
  // The group epoch; a classic group's generation.
  int32_t group_epoch = 0;
  // Classic groups: the members' protocol type and the protocol (assignor) they chose.
  std::string protocol_type;
  std::string protocol;
  std::string assignor;
  std::vector<MemberDescription> members;
  std::map<TopicPartition, CommittedOffset> offsets;
};

class GroupStore {
 public:
  // `now_ms` of the constructor starts every loaded member's session.
  explicit GroupStore(GroupLimits limits);

  // Replays one record of the log (loading). Unknown record types or versions are skipped;
  // malformed records are an error (the log is corrupt).
  absl::Status Apply(const GroupLogRecord& record, int64_t now_ms);

  // Errors carry rill.v1 codes (INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, ...).
  absl::StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& request,
                                              const TopicCatalog& topics, int64_t now_ms,
                                              const std::function<std::string()>& new_member_id,
                                              std::vector<GroupLogRecord>* out);

  // Kafka's classic protocol (ClassicGroup has the rules). A group is of one kind while it has
  // members: a classic join of a group with native members, or a native join of one with
  // classic members, is INCONSISTENT_GROUP_PROTOCOL. Held answers a call releases go to
  // `done`; they go out only once `out` is appended.
  std::optional<ClassicJoinResult> JoinGroup(const std::string& group_id,
                                             const ClassicJoinRequest& request, int64_t now_ms,
                                             const std::function<std::string()>& new_member_id,
                                             ClassicCompletions* done,
                                             std::vector<GroupLogRecord>* out);
  std::optional<ClassicSyncResult> SyncGroup(const std::string& group_id,
                                             const ClassicSyncRequest& request, int64_t now_ms,
                                             ClassicCompletions* done,
                                             std::vector<GroupLogRecord>* out);
  absl::Status ClassicHeartbeat(const std::string& group_id, const std::string& member_id,
                                int32_t generation, int64_t now_ms);
  absl::Status LeaveGroup(const std::string& group_id, const std::string& member_id,
                          int64_t now_ms, ClassicCompletions* done,
                          std::vector<GroupLogRecord>* out);

  // Validates a commit (`member_epoch` is a classic member's generation). Request-wide errors come back as the status; per-partition errors
  // (unknown partition, not owned, bad offset, metadata too large) in `results`, in request
  // order. Records for the valid partitions go to `out`.
  absl::Status CommitOffsets(const std::string& group_id, const std::string& member_id,
                             int32_t member_epoch, const std::vector<OffsetCommit>& commits,
                             const TopicCatalog& topics, int64_t now_ms,
                             std::vector<absl::Status>* results, std::vector<GroupLogRecord>* out);

  // Committed offsets of the group (all of them when `partitions` is empty). A group that
  // does not exist has none.
  std::map<TopicPartition, CommittedOffset> FetchOffsets(const std::string& group_id,
                                                         const PartitionSet& partitions) const;

  std::vector<std::pair<std::string, GroupDescription>> ListGroups() const;
  absl::StatusOr<GroupDescription> Describe(const std::string& group_id) const;
  // GROUP_NOT_FOUND, or GROUP_NOT_EMPTY while it has members.
  absl::Status DeleteGroup(const std::string& group_id, std::vector<GroupLogRecord>* out);
  // Sets committed offsets of a group without members (creating the group if needed).
  absl::Status ResetOffsets(const std::string& group_id,
                            const std::map<TopicPartition, int64_t>& offsets, int64_t now_ms,
                            std::vector<GroupLogRecord>* out);

  // Removes members whose session or revocation time ran out, re-targets their groups, and
  // deletes empty groups whose offsets expired. `topics` is asked for the catalog only when a
  // group has to be re-targeted (this runs on a short timer; usually nothing expires).
  // Classic groups' sessions and rebalances end here too, releasing held answers into
  // `released` by group.
  void ExpireSessions(const std::function<TopicCatalog()>& topics, int64_t now_ms,
                      std::map<std::string, ClassicCompletions>* released,
                      std::vector<GroupLogRecord>* out);

 private:
  struct Member {
    std::string instance_id;
    std::string client_id;
    std::vector<std::string> subscribed_topics;
    std::string subscribed_regex;
    int32_t rebalance_timeout_ms = 0;
    int32_t member_epoch = 0;
    int32_t previous_member_epoch = -1;
    PartitionSet assigned;
    PartitionSet revoking;
    PartitionSet target;
    bool left_static = false;
    // Not persisted: restarted from the load time.
    int64_t last_heartbeat_ms = 0;
    int64_t revoke_deadline_ms = 0;
  };
  struct Group {
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    std::string assignor;
    int64_t created_ms = 0;
    std::map<std::string, Member> members;
    std::map<TopicPartition, CommittedOffset> offsets;
    // Not persisted: the subscribed topics' partition counts the target was computed for.
    TopicCatalog subscribed_metadata;
    // The members of Kafka's classic protocol; empty for a native group.
    ClassicGroup classic;
  };

  Group& GetOrCreate(const std::string& group_id, int64_t now_ms, std::vector<GroupLogRecord>* out);
  // The subscribed topics that exist, with partition counts, over every member.
  TopicCatalog SubscribedTopics(const Group& group, const TopicCatalog& topics) const;
  std::set<std::string> ResolveSubscription(const Member& member, const TopicCatalog& topics) const;
  // Recomputes the target assignment if the group epoch moved past it.
  void MaybeRetarget(const std::string& group_id, Group& group, const TopicCatalog& topics,
                     std::vector<GroupLogRecord>* out);
  // Moves one member towards its target (revoke first, then assign released partitions).
  void Reconcile(const std::string& group_id, Group& group, const std::string& member_id,
                 const PartitionSet& owned, bool owned_known, int64_t now_ms,
                 std::vector<GroupLogRecord>* out);
  void RemoveMember(const std::string& group_id, Group& group, const std::string& member_id,
                    std::vector<GroupLogRecord>* out);
  static std::string StateOf(const Group& group);
  // "consumer" (native) or "classic".
  static const char* TypeOf(const Group& group);
  // GROUP_NOT_EMPTY for a group with members of either kind, `advice` appended.
  static absl::Status NotEmpty(const std::string& group_id, const Group& group,
                               std::string_view advice);
  static bool IsClassic(const Group& group) { return !group.classic.empty(); }
  static bool HasMembers(const Group& group) {
    return !group.members.empty() || !group.classic.empty();
  }
  // Appends the classic group's record if the last call changed what is persisted.
  void PersistClassic(const std::string& group_id, Group& group,
                      std::vector<GroupLogRecord>* out);

  GroupLogRecord GroupRecordOf(const std::string& group_id, const Group& group) const;
  GroupLogRecord MemberRecordOf(const std::string& group_id, const std::string& member_id,
                                const Member& member) const;
  GroupLogRecord OffsetRecordOf(const std::string& group_id, const TopicPartition& tp,
                                const CommittedOffset& offset) const;

  const GroupLimits limits_;
  std::map<std::string, Group> groups_;
};

// Kafka's rules for group ids: 1-255 printable characters.
absl::Status ValidateGroupId(const std::string& group_id);

// Java's String.hashCode, as Kafka uses to place a group: partition = abs(hash) % partitions.
int32_t GroupPartitionFor(const std::string& group_id, int32_t partitions);

}  // namespace rill::groups
