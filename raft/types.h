// Raft value types (docs/raft.md). An entry's index is the last offset it covers, so indexes
// grow strictly but need not be consecutive.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace rill::raft {

using rill::kNoNode;
using rill::NodeId;
using rill::Term;
// An entry's index is the last offset its batch covers, so a Raft index is an Offset.
using Index = rill::Offset;

enum class EntryType : uint8_t {
  kNormal,
  // `data` is an encoded ConfChange (EncodeConfChange).
  kConfChange,
};

struct Entry {
  Term term;
  // The last offset the entry covers; it covers (previous entry's index, index].
  Index index;
  EntryType type = EntryType::kNormal;
  std::string data;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// The members of a group. Voters elect and count toward commit; learners only receive the log.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  bool IsVoter(NodeId id) const;
  bool IsLearner(NodeId id) const;
  bool IsMember(NodeId id) const { return IsVoter(id) || IsLearner(id); }
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// Single-server membership changes, one at a time (docs/raft.md, "Membership").
enum class ConfChangeType : uint8_t {
  kAddLearner = 1,
  // Adds a voter, or promotes a learner to voter.
  kAddVoter = 2,
  kRemoveNode = 3,
};

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddLearner;
  NodeId node = kNoNode;
  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

// "add learner", "add voter" or "remove".
const char* ConfChangeName(ConfChangeType type);

// A ConfChange entry's data, format version 1: [version u8 = 1][type u8][node i32 big-endian].
std::string EncodeConfChange(const ConfChange& change);
absl::StatusOr<ConfChange> DecodeConfChange(std::string_view data);
// The configuration after `change`; InvalidArgument if it does not apply to `conf` (adding a
// member twice, removing a stranger, removing the last voter).
absl::StatusOr<ConfState> ApplyConfChange(const ConfState& conf, const ConfChange& change);

// Where a compacted log starts: everything through `index` is folded into the snapshot.
struct SnapshotMeta {
  Index index;
  Term term;
  ConfState conf;
  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

struct Snapshot {
  SnapshotMeta meta;
  // The state machine at meta.index. For a partition it is empty: the log is the state.
  std::string data;
};

enum class MessageType {
  kPreVote,
  kPreVoteResponse,
  kVote,
  kVoteResponse,
  kAppend,
  kAppendResponse,
  kHeartbeat,
  kHeartbeatResponse,
  // Leader to a follower whose next entry is compacted away: `snapshot`.
  kSnapshot,
  // Leader to its transfer target: campaign now.
  kTimeoutNow,
  // Follower to leader: a read request (`context`); the answer carries its read index.
  kReadIndex,
  kReadIndexResponse,
};

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  // The sender's term (for a pre-vote request: the term it would campaign in).
  Term term;
  // Vote requests: the candidate's last entry. Append: the entry before `entries`.
  // Read-index response: the read index.
  Index index;
  Term log_term;
  std::vector<Entry> entries;
  // Append and heartbeat: the leader's commit index.
  Index commit;
  // Responses: rejected or not; an accepted append reports its last matching index in `index`.
  bool reject = false;
  // A rejected append: the follower's hint of where the logs may agree.
  Index reject_hint;
  // Vote requests: the campaign follows a leadership transfer, so the leader lease yields.
  bool transfer = false;
  // Heartbeats and read-index messages: the read request they carry.
  std::string context;
  // kSnapshot only.
  Snapshot snapshot;
};

struct HardState {
  Term term;
  NodeId vote = kNoNode;
  Index commit;
  friend bool operator==(const HardState&, const HardState&) = default;
};

// A linearizable read point: once the caller has applied through `index`, a read made for
// `context` sees every write acknowledged before the read was requested.
struct ReadState {
  Index index;
  std::string context;
  friend bool operator==(const ReadState&, const ReadState&) = default;
};

// The payload size an entry counts toward the byte limits.
inline size_t EntryBytes(const Entry& e) { return e.data.size(); }

}  // namespace rill::raft
