// Raft value types (docs/raft.md). An entry's index is the last offset it covers, so indexes
// grow strictly but need not be consecutive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rill::raft {

using NodeId = int32_t;
using Term = int64_t;
using Index = int64_t;

inline constexpr NodeId kNoNode = 0;

struct Entry {
  Term term = 0;
  // The last offset the entry covers; it covers (previous entry's index, index].
  Index index = 0;
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
};

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  // The sender's term (for a pre-vote request: the term it would campaign in).
  Term term = 0;
  // Vote requests: the candidate's last entry. Append: the entry before `entries`.
  Index index = 0;
  Term log_term = 0;
  std::vector<Entry> entries;
  // Append and heartbeat: the leader's commit index.
  Index commit = 0;
  // Responses: rejected or not; an accepted append reports its last matching index in `index`.
  bool reject = false;
  // A rejected append: the follower's hint of where the logs may agree.
  Index reject_hint = 0;
};

struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  friend bool operator==(const HardState&, const HardState&) = default;
};

}  // namespace rill::raft
