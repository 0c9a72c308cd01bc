// The membership steps that take a partition's Raft group from the replicas it has to a target
// set (docs/replication.md, "Moving replicas"), decided by the partition's leader one at a time:
// every new replica joins as a learner; a learner that has caught up is promoted; once the
// voters outnumber the target, an old voter is removed (the leader itself last, after handing
// its leadership to a new voter that has caught up). So the voters never number more than the
// target's size plus one, and each change is a single-server change the Raft core commits
// before the next.
//
// Pure: no I/O, no clock, no threads.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "base/ids.h"
#include "raft/types.h"

namespace rill::cluster {

struct MoveView {
  // The configuration in effect on the leader.
  raft::ConfState conf;
  NodeId leader;
  // What each other member holds, per the leader.
  std::map<NodeId, raft::Index> matches;
  raft::Index last_index;
  // A learner is promoted once it is within this many offsets of the leader's last index.
  int64_t promotion_max_lag = 0;
};

struct MoveStep {
  enum class Kind {
    // Learners are still catching up.
    kWait,
    // Propose `change`.
    kChange,
    // Hand leadership to `to` (the leader is leaving).
    kTransferLeadership,
    // The voters are the target and there are no learners.
    kDone,
  };
  Kind kind = Kind::kWait;
  raft::ConfChange change;
  NodeId to;
  friend bool operator==(const MoveStep&, const MoveStep&) = default;
};

// The next step toward `target` (distinct node ids, not empty).
MoveStep NextMoveStep(const MoveView& view, const std::vector<NodeId>& target);

}  // namespace rill::cluster
