// RaftNode: the Raft consensus core, a pure state machine (docs/raft.md). No I/O, no threads,
// no clock: time is Tick(), messages come in through Step() and requests through Propose(),
// ProposeConfChange(), ReadIndex() and TransferLeadership(); everything to act on comes out of
// TakeReady().
//
// The caller's loop, after any of those calls:
//   Ready r = node.TakeReady();
//   install r.snapshot; write r.entries after r.entries_after; persist r.hard_state (durably);
//   send r.messages; apply r.committed; serve r.read_states once applied through their index;
//   node.Advance();
// Not thread-safe.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/log.h"
#include "raft/log_view.h"
#include "raft/types.h"

namespace rill::raft {

// Defaults are documented in docs/raft.md ("Limits").
struct RaftConfig {
  NodeId id = kNoNode;
  // The members of a brand-new group, used only while the log holds no configuration (no
  // snapshot, no configuration entry). A node joining an existing group starts with none and
  // learns the configuration from the leader's log.
  ConfState bootstrap;
  // A follower campaigns after [election_ticks, 2 * election_ticks) ticks without a leader.
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // Per append message: entries and payload bytes (one entry is always allowed).
  size_t max_entries_per_append = 256;
  size_t max_bytes_per_append = 1 << 20;
  // Per follower in replicate state: append messages and their payload bytes in flight.
  size_t max_inflight_appends = 64;
  size_t max_inflight_bytes = 8 << 20;
  // Proposed but not yet committed payload bytes on a leader; beyond it proposals are refused.
  size_t max_uncommitted_bytes = 64 << 20;
  // Committed entries' payload bytes handed out per Ready (one entry is always allowed).
  size_t max_committed_bytes_per_ready = 8 << 20;
  // false for a state machine that is the log itself (a partition, whose high watermark is the
  // commit index): Ready then reports only `applied_index`, and committed entries are never
  // read back from the log.
  bool hand_out_committed = true;
  // A leader whose log is empty (never written, never compacted) appends no no-op: nothing
  // before it can have been committed, so it has nothing to commit by one and serves at once.
  // A partition sets it so that a new partition's first record is at offset 0.
  bool skip_noop_on_empty_log = false;
  // Read requests waiting for a quorum's heartbeat answers.
  size_t max_pending_reads = 4096;
  // A learner is promoted only when its log is within this many offsets of the leader's.
  int64_t promotion_max_lag = 1000;
  // Seeds the election timeout randomization (with the node id).
  uint64_t seed = 0;
};

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

struct Ready {
  // Set when term, vote or commit changed: persist before sending `messages`.
  std::optional<HardState> hard_state;
  // Install before writing `entries`: the log becomes empty after it.
  std::optional<Snapshot> snapshot;
  // Remove every log entry after `entries_after`, then append `entries`; durably, before
  // sending `messages`.
  Index entries_after;
  std::vector<Entry> entries;
  std::vector<Message> messages;
  // Newly committed entries, in order, to apply after persisting (none when the config's
  // hand_out_committed is false).
  std::vector<Entry> committed;
  // Everything through this index is committed and, once this Ready is persisted, durable
  // here: with `committed`, the index of its last entry (or the last Ready's).
  Index applied_index;
  // Read points whose reads may be served once applied through their index.
  std::vector<ReadState> read_states;

  bool empty() const {
    return !hard_state && !snapshot && entries.empty() && messages.empty() && committed.empty() &&
           read_states.empty();
  }
};

// One entry to propose: `offsets` is how many offsets it covers (a batch's record count).
struct Proposal {
  std::string data;
  int64_t offsets = 1;
};

class RaftNode {
 public:
  // `log` holds what was persisted before a restart, `state` the persisted hard state. On a
  // restart the caller restores its state machine from the log's snapshot; committed entries
  // after it are handed out again. DataLoss if the persisted state is inconsistent.
  static absl::StatusOr<std::unique_ptr<RaftNode>> Create(RaftConfig config, const RaftLog* log,
                                                          HardState state);

  void Tick();
  void Step(const Message& message);
  // Starts an election now, as an election timeout would.
  absl::Status Campaign();
  // Appends entries if this node leads and returns the last one's index. FailedPrecondition
  // naming the leader (0 when unknown) on a follower or during a leadership transfer;
  // ResourceExhausted (retriable) beyond max_uncommitted_bytes.
  absl::StatusOr<Index> Propose(std::vector<Proposal> proposals);
  absl::StatusOr<Index> Propose(std::string data, int64_t offsets = 1) {
    return Propose(std::vector<Proposal>{Proposal{std::move(data), offsets}});
  }
  // Appends a membership change, in effect as soon as it is appended. FailedPrecondition while
  // an earlier change is uncommitted or when promoting a learner that has not caught up.
  absl::StatusOr<Index> ProposeConfChange(const ConfChange& change);
  // Asks for a linearizable read point for `context` (unique per request); it comes back as
  // a ReadState. Unavailable (retriable) when there is no leader or the leader has not yet
  // committed an entry of its term.
  absl::Status ReadIndex(std::string context);
  // Hands leadership to voter `to`: proposals are refused until it takes over or an election
  // timeout passes.
  absl::Status TransferLeadership(NodeId to);
  // Throttles what a leader sends learners while they copy the entries it held when they
  // joined (or when it took over): such appends go out only while the budget
  // GrantLearnerBytes fills is positive, and draw it down by their payload. Entries written
  // after that point are sent as to any follower, so a learner always catches up with a
  // partition that keeps being written. Off by default: learners are sent as voters are.
  void ThrottleLearners(bool on) { learners_throttled_ = on; }
  // Adds `bytes` to the learners' shared budget (the caller grants its rate times the time
  // passed) and sends what it now allows. The budget is capped at one grant or one append.
  void GrantLearnerBytes(size_t bytes);

  // Everything to act on since the last Ready; call Advance() once it is done.
  Ready TakeReady();
  void Advance();

  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit() const { return commit_; }
  // On a leader: the commit index from which it serves reads (everything earlier leaders
  // committed is below it): its no-op's index, or 0 when it appended none.
  Index serving_index() const { return serving_index_; }
  NodeId id() const { return config_.id; }
  // The configuration in effect (the newest one in the log).
  const ConfState& conf() const { return confs_.rbegin()->second; }
  // The configuration in effect at `index` (for a snapshot taken there).
  const ConfState& ConfAt(Index index) const {
    auto it = confs_.upper_bound(index);
    return it == confs_.begin() ? it->second : std::prev(it)->second;
  }
  NodeId transferee() const { return transferee_; }
  Index LastIndex() const { return log_.LastIndex(); }
  absl::StatusOr<Term> TermAt(Index index) const { return log_.TermAt(index); }
  // On a leader: what each other member (voter or learner) is known to hold, by node id.
  std::map<NodeId, Index> Matches() const;
  // Role, term, commit and, on a leader, each follower's progress, one line each.
  std::string Describe() const;

 private:
  enum class ProgressState { kProbe, kReplicate, kSnapshot };
  struct Progress {
    ProgressState state = ProgressState::kProbe;
    Index match;
    // The entry after which the next append starts (an entry boundary of this log).
    Index next_after;
    // Probe: an append is out and unanswered (no more until an answer or a heartbeat reply).
    bool probe_sent = false;
    // Replicate: the last index and payload bytes of each append in flight, oldest first.
    std::deque<std::pair<Index, size_t>> inflight;
    size_t inflight_bytes = 0;
    // Snapshot: the index of the snapshot sent, and ticks since (resent after a timeout).
    Index pending_snapshot;
    int snapshot_ticks = 0;
    // Leader ticks since the follower last accepted an append.
    int ticks_since_ack = 0;
    // The leader's last index when this progress started: a learner's appends before it are
    // throttled (ThrottleLearners).
    Index catchup_until;
    bool recent_active = false;
  };
  struct PendingRead {
    Index index;
    std::string context;
    NodeId from = kNoNode;
    std::set<NodeId> acks;
  };

  RaftNode(RaftConfig config, const RaftLog* log, HardState state);

  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartCampaign(bool pre_vote, bool transfer);
  void Send(Message m);
  bool SendAppend(NodeId to);
  void SendSnapshot(NodeId to, Progress& p);
  void SendTimeoutNow(NodeId to);
  void BroadcastAppend();
  void BroadcastHeartbeat(const std::string& context);
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  void HandleAppend(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleReadRequest(NodeId from, std::string context);
  void HandleReadAck(NodeId from, const std::string& context);
  void AnswerRead(NodeId to, Index index, std::string context);
  Index AppendAsLeader(std::vector<Entry> entries);
  void MaybeCommit();
  void CommitTo(Index index);
  bool CommittedInTerm() const;
  bool LogUpToDate(Index index, Term log_term) const;
  size_t Quorum() const { return conf().voters.size() / 2 + 1; }
  void ResetRandomizedTimeout();
  void ResetProgress(Progress& p) const;
  // Membership: the configuration history of the uncommitted log tail. Both return whether
  // the history changed; then call ConfChanged(), which fits a leader's progress to conf().
  bool TruncateConfsAfter(Index index);
  bool RecordConfEntries(const std::vector<Entry>& entries);
  void ConfChanged();

  const RaftConfig config_;
  LogView log_;
  std::mt19937_64 rng_;
  Role role_ = Role::kFollower;
  Term term_;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Index commit_;
  Index applied_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  std::map<NodeId, bool> votes_;
  std::map<NodeId, Progress> progress_;
  // Configurations by the index of the entry that made them: the first is the committed one,
  // the last the one in effect (conf()).
  std::map<Index, ConfState> confs_;
  Index pending_conf_index_;
  Index serving_index_;
  NodeId transferee_ = kNoNode;
  size_t uncommitted_bytes_ = 0;
  bool learners_throttled_ = false;
  // May go below zero: an append is sent whole once the budget is positive.
  int64_t learner_budget_ = 0;
  // A leader's proposals of its term not yet handed out as committed: (index, payload bytes).
  std::deque<std::pair<Index, size_t>> uncommitted_;
  std::deque<PendingRead> pending_reads_;
  std::vector<ReadState> read_states_;
  std::vector<Message> outbox_;
  HardState persisted_;
  // What the last Ready handed out, for Advance().
  Index handed_snapshot_;
  Index handed_index_;
  Term handed_term_;
};

}  // namespace rill::raft
