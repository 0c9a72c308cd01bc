// RaftNode: the Raft consensus core, a pure state machine (docs/raft.md). No I/O, no threads,
// no clock: time is Tick(), messages come in through Step() and go out through TakeReady().
//
// This is the first part of the core: elections with pre-vote and check-quorum, log
// replication with probe/replicate flow control and fast backtracking, and the commit rule.
// Snapshots, membership changes, learners, leadership transfer and read-index come next.
//
// The caller's loop: Tick()/Step()/Propose(), then TakeReady(): persist the log (already
// written to the RaftLog) and the hard state, then send the messages, then apply the committed
// entries. Not thread-safe.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <random>

#include "absl/status/statusor.h"
#include "raft/log.h"
#include "raft/types.h"

namespace rill::raft {

struct RaftConfig {
  NodeId id = kNoNode;
  // Every voter, this node included.
  std::vector<NodeId> voters;
  // A follower campaigns after [election_ticks, 2 * election_ticks) ticks without a leader.
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // Entries per append message, and append messages in flight per follower.
  size_t max_entries_per_append = 64;
  size_t max_inflight_appends = 16;
  // Seeds the election timeout randomization (with the node id).
  uint64_t seed = 0;
};

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

struct Ready {
  // Set when term, vote or commit changed: persist before sending `messages`.
  std::optional<HardState> hard_state;
  std::vector<Message> messages;
  // Newly committed entries, in order, to apply after persisting.
  std::vector<Entry> committed;
};

class RaftNode {
 public:
  // `log` holds what was persisted before a restart; `state` the persisted hard state.
  RaftNode(RaftConfig config, RaftLog* log, HardState state);

  void Tick();
  void Step(const Message& message);
  // Appends an entry covering `offsets` offsets (>= 1) if this node leads; its index, or
  // FailedPrecondition naming the leader (kNoNode when unknown).
  absl::StatusOr<Index> Propose(std::string data, int64_t offsets = 1);
  Ready TakeReady();

  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit() const { return commit_; }
  NodeId id() const { return config_.id; }

 private:
  struct Progress {
    Index match = 0;
    // The entry after which the next append starts (an entry boundary of this log).
    Index next_after = 0;
    bool replicate = false;  // false: probe (one append at a time)
    // Probe: an append is out and unanswered (no more until an answer or a heartbeat reply).
    bool probe_sent = false;
    // Replicate: the last index of each append in flight, oldest first.
    std::deque<Index> inflight;
    bool recent_active = false;
  };

  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Campaign(bool pre_vote);
  void Send(Message m);
  void SendAppend(NodeId to);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  void HandleAppend(const Message& m);
  void HandleAppendResponse(const Message& m);
  void MaybeCommit();
  bool LogUpToDate(Index index, Term log_term) const;
  Term LastTerm() const;
  size_t Quorum() const { return config_.voters.size() / 2 + 1; }
  void ResetRandomizedTimeout();

  const RaftConfig config_;
  RaftLog* const log_;
  std::mt19937_64 rng_;
  Role role_ = Role::kFollower;
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Index commit_ = 0;
  Index applied_ = 0;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  std::map<NodeId, bool> votes_;
  std::map<NodeId, Progress> progress_;
  std::vector<Message> outbox_;
  HardState persisted_;
};

}  // namespace rill::raft
