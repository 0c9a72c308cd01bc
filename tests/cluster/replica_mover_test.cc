#include "cluster/replica_mover.h"

#include "catch2/catch.hpp"

namespace rill::cluster {
namespace {

using raft::ConfChangeType;
using Kind = MoveStep::Kind;

std::vector<NodeId> Nodes(std::initializer_list<int32_t> ids) {
  std::vector<NodeId> out;
  for (int32_t id : ids) out.push_back(NodeId(id));
  return out;
}

MoveStep Change(ConfChangeType type, int32_t node) {
  MoveStep step;
  step.kind = Kind::kChange;
  step.change = raft::ConfChange{type, NodeId(node)};
  return step;
}

// Runs the planner against a group whose members catch up at once, applying each change, and
// returns the changes made in order.
std::vector<MoveStep> Drive(raft::ConfState conf, NodeId leader,
                            const std::vector<NodeId>& target) {
  std::vector<MoveStep> steps;
  for (int i = 0; i < 20; ++i) {
    MoveView view;
    view.conf = conf;
    view.leader = leader;
    view.last_index = raft::Index(100);
    for (NodeId n : conf.voters) view.matches[n] = raft::Index(100);
    for (NodeId n : conf.learners) view.matches[n] = raft::Index(100);
    const MoveStep step = NextMoveStep(view, target);
    if (step.kind == Kind::kDone) return steps;
    REQUIRE(step.kind != Kind::kWait);
    steps.push_back(step);
    if (step.kind == Kind::kTransferLeadership) {
      leader = step.to;
      continue;
    }
    auto next = raft::ApplyConfChange(conf, step.change);
    REQUIRE(next.ok());
    conf = *next;
    // Never more voters than the target plus one.
    CHECK(conf.voters.size() <= std::max(target.size(), size_t{3}) + 1);
  }
  FAIL("the move did not finish");
  return steps;
}

TEST_CASE("replica mover: one replica out, one in", "[cluster]") {
  const auto steps = Drive({Nodes({1, 2, 3}), {}}, NodeId(2), Nodes({2, 3, 4}));
  CHECK(steps == std::vector<MoveStep>{Change(ConfChangeType::kAddLearner, 4),
                                       Change(ConfChangeType::kAddVoter, 4),
                                       Change(ConfChangeType::kRemoveNode, 1)});
}

TEST_CASE("replica mover: the leader leaves last, after handing over leadership", "[cluster]") {
  const auto steps = Drive({Nodes({1, 2, 3}), {}}, NodeId(1), Nodes({4, 5, 6}));
  REQUIRE(steps.size() == 10);
  CHECK(steps[0] == Change(ConfChangeType::kAddLearner, 4));
  CHECK(steps[3] == Change(ConfChangeType::kAddVoter, 4));
  CHECK(steps[4] == Change(ConfChangeType::kRemoveNode, 2));
  CHECK(steps[5] == Change(ConfChangeType::kAddVoter, 5));
  CHECK(steps[6] == Change(ConfChangeType::kRemoveNode, 3));
  CHECK(steps[7] == Change(ConfChangeType::kAddVoter, 6));
  CHECK(steps[8].kind == Kind::kTransferLeadership);
  CHECK(steps[8].to == NodeId(4));
  CHECK(steps[9] == Change(ConfChangeType::kRemoveNode, 1));
}

TEST_CASE("replica mover: growing and shrinking the replica count", "[cluster]") {
  CHECK(Drive({Nodes({1}), {}}, NodeId(1), Nodes({1, 2, 3})) ==
        std::vector<MoveStep>{Change(ConfChangeType::kAddLearner, 2),
                              Change(ConfChangeType::kAddLearner, 3),
                              Change(ConfChangeType::kAddVoter, 2),
                              Change(ConfChangeType::kAddVoter, 3)});
  CHECK(Drive({Nodes({1, 2, 3}), {}}, NodeId(1), Nodes({1})) ==
        std::vector<MoveStep>{Change(ConfChangeType::kRemoveNode, 2),
                              Change(ConfChangeType::kRemoveNode, 3)});
}

TEST_CASE("replica mover: a learner is promoted only once it has caught up", "[cluster]") {
  MoveView view;
  view.conf = {Nodes({1, 2, 3}), Nodes({4})};
  view.leader = NodeId(1);
  view.last_index = raft::Index(10000);
  view.promotion_max_lag = 1000;
  view.matches = {{NodeId(2), raft::Index(10000)},
                  {NodeId(3), raft::Index(10000)},
                  {NodeId(4), raft::Index(8000)}};
  CHECK(NextMoveStep(view, Nodes({2, 3, 4})).kind == Kind::kWait);
  view.matches[NodeId(4)] = raft::Index(9000);
  CHECK(NextMoveStep(view, Nodes({2, 3, 4})) == Change(ConfChangeType::kAddVoter, 4));
  // A learner the target no longer names (a cancelled move) is removed.
  CHECK(NextMoveStep(view, Nodes({1, 2, 3})) == Change(ConfChangeType::kRemoveNode, 4));
}

TEST_CASE("replica mover: a leaving leader waits for a new voter to catch up", "[cluster]") {
  MoveView view;
  view.conf = {Nodes({1, 2}), {}};
  view.leader = NodeId(1);
  view.last_index = raft::Index(10000);
  view.promotion_max_lag = 1000;
  view.matches = {{NodeId(2), raft::Index(5000)}};
  CHECK(NextMoveStep(view, Nodes({2})).kind == Kind::kWait);
  view.matches[NodeId(2)] = raft::Index(9500);
  const MoveStep step = NextMoveStep(view, Nodes({2}));
  CHECK(step.kind == Kind::kTransferLeadership);
  CHECK(step.to == NodeId(2));
}

}  // namespace
}  // namespace rill::cluster
