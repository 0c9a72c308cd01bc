// ClassicGroup: one group of Kafka's classic rebalance protocol (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup), whose assignors run in the clients. The broker picks a protocol
// (assignor) every member supports, names a leader, hands the leader every member's metadata
// and passes the leader's assignment bytes through to each member. It never reads them.
//
// States follow Kafka's: Empty; PreparingRebalance, where JoinGroup answers are held until
// every known member has joined again or the rebalance timeout ends (members that did not
// rejoin are removed); CompletingRebalance, where the generation has moved on and the
// followers' SyncGroup answers wait for the leader's; Stable.
//
// An answer that has to wait comes back later as a completion from whichever call (or Tick)
// completes the phase; the caller keeps the waiting requests. Pure: no I/O, no clock (times
// are passed in), no threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "rill/v1/group_records.pb.h"

namespace rill::groups {

struct ClassicLimits {
  int32_t min_session_timeout_ms = 6000;
  int32_t max_session_timeout_ms = 1800000;
  int32_t max_rebalance_timeout_ms = 300000;
  // How long a new group waits for more members before its first generation, extended by
  // each member that joins meanwhile (up to the rebalance timeout).
  int32_t initial_rebalance_delay_ms = 3000;
  size_t max_members = 1000;
  size_t max_protocols = 64;
  size_t max_metadata_bytes = 1 << 20;
};

struct ClassicProtocol {
  std::string name;
  std::string metadata;
};

struct ClassicJoinRequest {
  std::string member_id;
  std::string instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  // <= 0: the session timeout (JoinGroup v0 has none).
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<ClassicProtocol> protocols;
  // JoinGroup v4+: a member without an id gets one and must join again with it.
  bool require_known_member_id = false;
};

struct ClassicJoinMember {
  std::string member_id;
  std::string instance_id;
  std::string metadata;
};

struct ClassicJoinResult {
  static ClassicJoinResult Failed(absl::Status status, std::string member_id) {
    ClassicJoinResult result;
    result.status = std::move(status);
    result.member_id = std::move(member_id);
    return result;
  }

  absl::Status status;
  int32_t generation = -1;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  // Only in the leader's answer.
  std::vector<ClassicJoinMember> members;
};

struct ClassicSyncRequest {
  std::string member_id;
  int32_t generation = 0;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<std::pair<std::string, std::string>> assignments;
};

struct ClassicSyncResult {
  static ClassicSyncResult Failed(absl::Status status) {
    ClassicSyncResult result;
    result.status = std::move(status);
    return result;
  }

  absl::Status status;
  std::string protocol_type;
  std::string protocol_name;
  std::string assignment;
};

// Held answers a call released, by member id.
struct ClassicCompletions {
  std::vector<std::pair<std::string, ClassicJoinResult>> joins;
  std::vector<std::pair<std::string, ClassicSyncResult>> syncs;
};

struct ClassicMemberView {
  std::string member_id;
  std::string instance_id;
  std::string client_id;
  std::string client_host;
  // For the group's protocol.
  std::string metadata;
  std::string assignment;
};

class ClassicGroup {
 public:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };

  // The answer now, or nullopt when it is held until the rebalance moves on. A member without
  // an id gets new_member_id().
  std::optional<ClassicJoinResult> Join(const ClassicJoinRequest& request,
                                        const ClassicLimits& limits, int64_t now_ms,
                                        const std::function<std::string()>& new_member_id,
                                        ClassicCompletions* done);
  std::optional<ClassicSyncResult> Sync(const ClassicSyncRequest& request, int64_t now_ms,
                                        ClassicCompletions* done);
  absl::Status Heartbeat(const std::string& member_id, int32_t generation, int64_t now_ms);
  absl::Status Leave(const std::string& member_id, int64_t now_ms, ClassicCompletions* done);
  // Ends sessions, pending joins and rebalances whose time is up.
  void Tick(int64_t now_ms, ClassicCompletions* done);

  // May an offset commit by `member_id` for `generation` go in? (Kafka's rules: a commit
  // without a member only while the group is empty; none while the assignment is unknown.)
  absl::Status CheckCommit(const std::string& member_id, int32_t generation) const;

  // No members and nobody asked to join: the group may be taken by the native protocol.
  bool empty() const { return members_.empty() && pending_.empty(); }
  size_t size() const { return members_.size(); }
  State state() const { return state_; }
  static const char* StateName(State state);
  int32_t generation() const { return generation_; }
  const std::string& protocol_type() const { return protocol_type_; }
  const std::string& protocol() const { return protocol_; }
  std::vector<ClassicMemberView> Members() const;

  // What is persisted. `dirty` is set when it changed in a way that must be written before
  // the answers it released go out (a generation's assignment, the group becoming empty).
  v1::ClassicGroupRecord ToRecord() const;
  void Load(const v1::ClassicGroupRecord& record, int64_t now_ms);
  bool TakeDirty() { return std::exchange(dirty_, false); }

 private:
  struct Member {
    std::string instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<ClassicProtocol> protocols;
    std::string assignment;
    int64_t last_heartbeat_ms = 0;
    // Its JoinGroup (or SyncGroup) answer is held.
    bool awaiting_join = false;
    bool awaiting_sync = false;
    // Join order, for choosing a leader.
    int64_t joined_seq = 0;
  };

  ClassicJoinResult ResultFor(const std::string& member_id) const;
  void AddMember(const std::string& member_id, const ClassicJoinRequest& request,
                 int32_t rebalance_timeout, int64_t now_ms);
  // Starts a rebalance (held syncs are told to join again). A group's first one waits
  // `initial_delay_ms` for more members.
  void PrepareRebalance(int64_t now_ms, ClassicCompletions* done, int32_t initial_delay_ms);
  void RemoveMember(const std::string& member_id, int64_t now_ms, ClassicCompletions* done);
  void MaybeCompleteJoin(int64_t now_ms, ClassicCompletions* done);
  bool SupportsProtocols(const std::string& protocol_type,
                         const std::vector<ClassicProtocol>& protocols) const;
  std::string SelectProtocol() const;
  const std::string* MetadataFor(const Member& member, const std::string& protocol) const;

  State state_ = State::kEmpty;
  int32_t generation_ = 0;
  std::string protocol_type_;
  std::string protocol_;
  std::string leader_;
  std::map<std::string, Member> members_;
  // Member ids handed out (MEMBER_ID_REQUIRED) and not yet used, with their deadline.
  std::map<std::string, int64_t> pending_;
  int64_t next_seq_ = 0;
  int64_t rebalance_deadline_ms_ = 0;
  int64_t join_not_before_ms_ = 0;
  int32_t initial_delay_ms_ = 0;
  int64_t sync_deadline_ms_ = 0;
  bool dirty_ = false;
};

}  // namespace rill::groups
