#include "cluster/replica_mover.h"

#include <algorithm>

namespace rill::cluster {
namespace {

bool Contains(const std::vector<NodeId>& nodes, NodeId id) {
  return std::find(nodes.begin(), nodes.end(), id) != nodes.end();
}

raft::Index MatchOf(const MoveView& view, NodeId id) {
  if (id == view.leader) return view.last_index;
  auto it = view.matches.find(id);
  return it == view.matches.end() ? raft::Index(0) : it->second;
}

bool CaughtUp(const MoveView& view, NodeId id) {
  return MatchOf(view, id).value() + view.promotion_max_lag >= view.last_index.value();
}

MoveStep Change(raft::ConfChangeType type, NodeId node) {
  MoveStep step;
  step.kind = MoveStep::Kind::kChange;
  step.change = raft::ConfChange{type, node};
  return step;
}

// Removes one of `leaving` (voters outside the target): another replica before the leader,
// whose leadership first goes to the new voter furthest ahead, once one has caught up.
MoveStep RemoveVoter(const MoveView& view, const std::vector<NodeId>& target,
                     const std::vector<NodeId>& leaving) {
  for (NodeId voter : leaving) {
    if (voter != view.leader) return Change(raft::ConfChangeType::kRemoveNode, voter);
  }
  NodeId best;
  for (NodeId voter : view.conf.voters) {
    if (!Contains(target, voter) || !CaughtUp(view, voter)) continue;
    if (best == kNoNode || MatchOf(view, voter) > MatchOf(view, best)) best = voter;
  }
  if (best == kNoNode) return MoveStep{};
  MoveStep step;
  step.kind = MoveStep::Kind::kTransferLeadership;
  step.to = best;
  return step;
}

}  // namespace

MoveStep NextMoveStep(const MoveView& view, const std::vector<NodeId>& target) {
  const raft::ConfState& conf = view.conf;
  for (NodeId node : target) {
    if (!conf.IsMember(node)) return Change(raft::ConfChangeType::kAddLearner, node);
  }
  std::vector<NodeId> leaving;
  for (NodeId voter : conf.voters) {
    if (!Contains(target, voter)) leaving.push_back(voter);
  }
  if (!leaving.empty() && conf.voters.size() > target.size()) {
    return RemoveVoter(view, target, leaving);
  }
  bool learning = false;
  for (NodeId learner : conf.learners) {
    if (!Contains(target, learner)) return Change(raft::ConfChangeType::kRemoveNode, learner);
    if (CaughtUp(view, learner)) return Change(raft::ConfChangeType::kAddVoter, learner);
    learning = true;
  }
  if (learning) return MoveStep{};
  if (!leaving.empty()) return RemoveVoter(view, target, leaving);
  MoveStep done;
  done.kind = MoveStep::Kind::kDone;
  return done;
}

}  // namespace rill::cluster
