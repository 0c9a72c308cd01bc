#include "raft/raft.h"

#include <algorithm>

#include "base/check.h"
#include "fmt/format.h"

namespace rill::raft {
namespace {

constexpr size_t kConfScanChunk = 1024;

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

absl::Status ValidateConfig(const RaftConfig& c) {
  if (c.id == kNoNode) return absl::InvalidArgumentError("node id 0 is reserved");
  if (c.heartbeat_ticks < 1 || c.election_ticks <= c.heartbeat_ticks) {
    return absl::InvalidArgumentError(
        fmt::format("need 1 <= heartbeat_ticks ({}) < election_ticks ({})", c.heartbeat_ticks,
                    c.election_ticks));
  }
  if (c.max_entries_per_append == 0 || c.max_bytes_per_append == 0 || c.max_inflight_appends == 0 ||
      c.max_inflight_bytes == 0 || c.max_uncommitted_bytes == 0 ||
      c.max_committed_bytes_per_ready == 0 || c.max_pending_reads == 0 || c.promotion_max_lag < 0) {
    return absl::InvalidArgumentError("every raft limit must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RaftNode>> RaftNode::Create(RaftConfig config, const RaftLog* log,
                                                           HardState state) {
  if (auto s = ValidateConfig(config); !s.ok()) return s;
  const SnapshotMeta snap = log->SnapshotMetadata();
  if (state.commit > log->LastIndex()) {
    return absl::DataLossError(fmt::format("persisted commit {} is past the log's last index {}",
                                           state.commit, log->LastIndex()));
  }
  std::unique_ptr<RaftNode> node(new RaftNode(std::move(config), log, state));
  const bool log_has_conf = snap.index > Index(0) || !snap.conf.voters.empty();
  node->confs_[snap.index] = log_has_conf ? snap.conf : node->config_.bootstrap;
  // The configuration in effect is the newest one in the log, committed or not.
  for (Index after = snap.index;;) {
    auto chunk =
        log->EntriesAfter(after, log->LastIndex(), kConfScanChunk, static_cast<size_t>(-1));
    if (chunk.empty()) break;
    for (const Entry& e : chunk) {
      if (e.type != EntryType::kConfChange) continue;
      auto change = DecodeConfChange(e.data);
      if (!change.ok()) {
        return absl::DataLossError(
            fmt::format("configuration entry {}: {}", e.index, change.status().ToString()));
      }
      auto next = ApplyConfChange(node->confs_.rbegin()->second, *change);
      if (!next.ok()) {
        return absl::DataLossError(
            fmt::format("configuration entry {}: {}", e.index, next.status().ToString()));
      }
      node->confs_[e.index] = *std::move(next);
    }
    after = chunk.back().index;
  }
  node->ConfChanged();
  node->CommitTo(std::max(state.commit, snap.index));
  node->persisted_.commit = node->commit_;
  return node;
}

RaftNode::RaftNode(RaftConfig config, const RaftLog* log, HardState state)
    : config_(std::move(config)),
      log_(log),
      rng_(config_.seed * 1000003 + static_cast<uint64_t>(config_.id.value())),
      term_(state.term),
      vote_(state.vote),
      applied_(log->SnapshotMetadata().index),
      persisted_(state) {
  ResetRandomizedTimeout();
}

void RaftNode::ResetRandomizedTimeout() {
  randomized_timeout_ = config_.election_ticks +
                        static_cast<int>(rng_() % static_cast<uint64_t>(config_.election_ticks));
}

bool RaftNode::LogUpToDate(Index index, Term log_term) const {
  const Term last_term = log_.LastTerm();
  return log_term > last_term || (log_term == last_term && index >= log_.LastIndex());
}

bool RaftNode::CommittedInTerm() const {
  auto t = log_.TermAt(commit_);
  return t.ok() && *t == term_;
}

void RaftNode::Send(Message m) {
  m.from = config_.id;
  if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResponse) {
    if (m.term == Term()) m.term = term_;
  }
  outbox_.push_back(std::move(m));
}

// Membership.

bool RaftNode::TruncateConfsAfter(Index index) {
  const size_t before = confs_.size();
  // The first configuration is the committed one and is never truncated.
  while (confs_.size() > 1 && confs_.rbegin()->first > index) confs_.erase(std::prev(confs_.end()));
  return confs_.size() != before;
}

bool RaftNode::RecordConfEntries(const std::vector<Entry>& entries) {
  const size_t before = confs_.size();
  for (const Entry& e : entries) {
    if (e.type != EntryType::kConfChange) continue;
    // A leader validated the change before appending it; an entry that does not decode or
    // apply is skipped rather than trusted.
    auto change = DecodeConfChange(e.data);
    if (!change.ok()) continue;
    auto next = ApplyConfChange(confs_.rbegin()->second, *change);
    if (next.ok()) confs_[e.index] = *std::move(next);
  }
  return confs_.size() != before;
}

void RaftNode::ConfChanged() {
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = conf().IsMember(it->first) ? std::next(it) : progress_.erase(it);
  }
  for (NodeId member : conf().voters) {
    if (member != config_.id && !progress_.count(member)) ResetProgress(progress_[member]);
  }
  for (NodeId member : conf().learners) {
    if (member != config_.id && !progress_.count(member)) ResetProgress(progress_[member]);
  }
  if (transferee_ != kNoNode && !conf().IsVoter(transferee_)) transferee_ = kNoNode;
  // Fewer voters may make something committable at once.
  MaybeCommit();
}

void RaftNode::ResetProgress(Progress& p) const {
  p = Progress{};
  p.next_after = log_.LastIndex();
  p.catchup_until = log_.LastIndex();
  p.recent_active = true;
}

// Roles.

void RaftNode::BecomeFollower(Term term, NodeId leader) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  election_elapsed_ = 0;
  transferee_ = kNoNode;
  pending_reads_.clear();
  ResetRandomizedTimeout();
}

void RaftNode::BecomePreCandidate() {
  // A pre-candidate changes neither term nor vote: it only asks whether it could win.
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  votes_.clear();
  election_elapsed_ = 0;
  ResetRandomizedTimeout();
}

void RaftNode::BecomeCandidate() {
  role_ = Role::kCandidate;
  ++term_;
  vote_ = config_.id;
  leader_ = kNoNode;
  votes_.clear();
  election_elapsed_ = 0;
  ResetRandomizedTimeout();
}

void RaftNode::BecomeLeader() {
  role_ = Role::kLeader;
  leader_ = config_.id;
  heartbeat_elapsed_ = 0;
  election_elapsed_ = 0;
  transferee_ = kNoNode;
  uncommitted_bytes_ = 0;
  uncommitted_.clear();
  learner_budget_ = 0;
  progress_.clear();
  ConfChanged();
  // The new leader's first entry commits everything before it (only entries of the current
  // term are committed by counting).
  // No configuration change until this entry commits. An earlier leader's change may sit
  // uncommitted in other logs; if this leader changed the configuration before a quorum of the
  // old one accepted its term, the two changes could have disjoint majorities (the known flaw of
  // single-server changes, fixed this way in Ongaro's thesis errata).
  if (config_.skip_noop_on_empty_log && log_.LastIndex() == Index(0)) {
    // Configuration changes still wait for a committed entry of this term (the first one).
    pending_conf_index_ = Index(1);
    serving_index_ = Index(0);
    return;
  }
  pending_conf_index_ =
      AppendAsLeader({Entry{term_, log_.LastIndex() + 1, EntryType::kNormal, ""}});
  serving_index_ = pending_conf_index_;
}

absl::Status RaftNode::Campaign() {
  if (role_ == Role::kLeader) return absl::OkStatus();
  if (!conf().IsVoter(config_.id)) {
    return absl::FailedPreconditionError(fmt::format("node {} is not a voter", config_.id));
  }
  StartCampaign(config_.pre_vote, /*transfer=*/false);
  return absl::OkStatus();
}

void RaftNode::StartCampaign(bool pre_vote, bool transfer) {
  Term campaign_term;
  if (pre_vote) {
    BecomePreCandidate();
    campaign_term = term_ + 1;
  } else {
    BecomeCandidate();
    campaign_term = term_;
  }
  votes_[config_.id] = true;
  if (votes_.size() >= Quorum()) {  // a single voter wins at once
    if (pre_vote) {
      StartCampaign(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId peer : conf().voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
    m.to = peer;
    m.term = campaign_term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

void RaftNode::Tick() {
  ++election_elapsed_;
  if (role_ == Role::kLeader) {
    for (auto& [peer, p] : progress_) {
      ++p.ticks_since_ack;
      // An install that got no answer within an election timeout is tried again.
      if (p.state == ProgressState::kSnapshot && ++p.snapshot_ticks >= config_.election_ticks) {
        p.state = ProgressState::kProbe;
        p.probe_sent = false;
        p.next_after = p.match;
      }
    }
    if (++heartbeat_elapsed_ >= config_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      BroadcastHeartbeat("");
    }
    if (election_elapsed_ >= config_.election_ticks) {
      election_elapsed_ = 0;
      transferee_ = kNoNode;  // a transfer that did not finish in an election timeout
      if (config_.check_quorum) {
        size_t active = conf().IsVoter(config_.id) ? 1 : 0;
        for (auto& [peer, p] : progress_) {
          if (p.recent_active && conf().IsVoter(peer)) ++active;
          p.recent_active = false;
        }
        // A leader cut off from a quorum steps down rather than keep a stale lease.
        if (active < Quorum()) BecomeFollower(term_, kNoNode);
      }
    }
    return;
  }
  if (election_elapsed_ >= randomized_timeout_ && conf().IsVoter(config_.id)) {
    StartCampaign(config_.pre_vote, /*transfer=*/false);
  }
}

void RaftNode::Step(const Message& m) {
  const bool is_vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kSnapshot;
  if (m.term > term_) {
    if (is_vote_request && !m.transfer && config_.check_quorum && leader_ != kNoNode &&
        election_elapsed_ < config_.election_ticks) {
      return;  // we heard from a leader recently: it is not gone
    }
    if (m.type == MessageType::kPreVote) {
      // Answered below without changing our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A grant carries the term the pre-candidate would campaign in.
    } else {
      BecomeFollower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (from_leader) {
      // A stale leader: our term in the answer makes it step down.
      Message r;
      r.type = MessageType::kAppendResponse;
      r.to = m.from;
      r.reject = true;
      r.index = m.index;
      r.reject_hint = log_.LastIndex();
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResponse;
      r.to = m.from;
      r.term = term_;
      r.reject = true;
      Send(std::move(r));
    }
    return;
  }

  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      HandleVoteRequest(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      HandleVoteResponse(m);
      break;
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      if (role_ == Role::kLeader) return;  // cannot happen: one leader per term
      if (role_ != Role::kFollower) BecomeFollower(term_, m.from);
      leader_ = m.from;
      election_elapsed_ = 0;
      if (m.type == MessageType::kSnapshot) {
        HandleSnapshot(m);
      } else {
        HandleAppend(m);
      }
      break;
    case MessageType::kAppendResponse:
    case MessageType::kHeartbeatResponse:
      if (role_ == Role::kLeader) HandleAppendResponse(m);
      break;
    case MessageType::kTimeoutNow:
      // The leader hands over: campaign at once, past pre-vote and the other voters' lease.
      if (role_ == Role::kFollower && m.from == leader_ && conf().IsVoter(config_.id)) {
        StartCampaign(/*pre_vote=*/false, /*transfer=*/true);
      }
      break;
    case MessageType::kReadIndex:
      if (role_ == Role::kLeader) HandleReadRequest(m.from, m.context);
      break;
    case MessageType::kReadIndexResponse:
      if (m.from == leader_) read_states_.push_back(ReadState{m.index, m.context});
      break;
  }
}

void RaftNode::HandleVoteRequest(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  r.to = m.from;
  if (can_vote && LogUpToDate(m.index, m.log_term)) {
    r.term = m.term;
    r.reject = false;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  Send(std::move(r));
}

void RaftNode::HandleVoteResponse(const Message& m) {
  const bool pre = m.type == MessageType::kPreVoteResponse;
  if ((pre && role_ != Role::kPreCandidate) || (!pre && role_ != Role::kCandidate)) return;
  if (pre && !m.reject && m.term != term_ + 1) return;  // an answer to an older pre-vote
  if (!conf().IsVoter(m.from)) return;
  votes_.try_emplace(m.from, !m.reject);
  size_t granted = 0, rejected = 0;
  for (const auto& [peer, yes] : votes_) (yes ? granted : rejected)++;
  if (granted >= Quorum()) {
    if (pre) {
      StartCampaign(false, /*transfer=*/false);
    } else {
      BecomeLeader();
    }
  } else if (rejected > conf().voters.size() - Quorum()) {
    BecomeFollower(term_, kNoNode);
  }
}

void RaftNode::HandleAppend(const Message& m) {
  Message r;
  r.type = m.type == MessageType::kAppend ? MessageType::kAppendResponse
                                          : MessageType::kHeartbeatResponse;
  r.to = m.from;
  if (m.type == MessageType::kHeartbeat) {
    // The leader sends at most what it knows we hold.
    CommitTo(std::min(m.commit, log_.LastIndex()));
    r.context = m.context;
    Send(std::move(r));
    return;
  }
  if (m.index < commit_) {
    // Everything up to our commit is settled; report it so the leader moves on.
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  auto prev_term = log_.TermAt(m.index);
  if (!prev_term.ok() || *prev_term != m.log_term) {
    r.reject = true;
    r.index = m.index;
    // Hint: where our log may still agree, skipping a whole conflicting term at once.
    Index hint = log_.BoundaryAtOrBefore(std::min(m.index, log_.LastIndex()));
    if (hint == m.index) {
      const Term conflict = *prev_term;
      while (hint > commit_) {
        auto t = log_.TermAt(hint);
        if (!t.ok() || *t != conflict) break;
        hint = log_.BoundaryAtOrBefore(hint - 1);
      }
    }
    r.reject_hint = std::min(hint, m.index - 1);
    Send(std::move(r));
    return;
  }
  Index prev = m.index;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    auto t = log_.TermAt(e.index);
    if (!t.ok() || *t != e.term) {
      // Everything from here on is replaced by the leader's entries.
      std::vector<Entry> rest(m.entries.begin() + static_cast<long>(i), m.entries.end());
      const bool truncated = TruncateConfsAfter(prev);
      const bool recorded = RecordConfEntries(rest);
      log_.Append(prev, std::move(rest));
      if (truncated || recorded) ConfChanged();
      break;
    }
    prev = e.index;
  }
  const Index last_new = m.entries.empty() ? m.index : m.entries.back().index;
  CommitTo(std::min(m.commit, last_new));
  r.index = last_new;
  Send(std::move(r));
}

void RaftNode::HandleSnapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot.meta;
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  if (meta.index > commit_) {
    auto t = log_.TermAt(meta.index);
    if (!t.ok() || *t != meta.term) {
      // Our log does not reach the snapshot, or disagrees with it: start over from it.
      log_.Restore(m.snapshot);
      confs_.clear();
      confs_[meta.index] = meta.conf;
      ConfChanged();
    }
    CommitTo(meta.index);
  }
  r.index = commit_;
  Send(std::move(r));
}

void RaftNode::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.recent_active = true;
  if (m.type == MessageType::kHeartbeatResponse) {
    if (!m.context.empty()) HandleReadAck(m.from, m.context);
    // The follower is reachable: an unanswered probe may have been lost, and appends that
    // went unanswered for half an election timeout probably were. A transfer target is probed
    // at once, since proposals wait for it.
    p.probe_sent = false;
    if (p.state == ProgressState::kReplicate && !p.inflight.empty() &&
        (p.ticks_since_ack >= std::max(1, config_.election_ticks / 2) || m.from == transferee_)) {
      p.state = ProgressState::kProbe;
      p.inflight.clear();
      p.inflight_bytes = 0;
      p.next_after = p.match;
    }
    if (p.match < log_.LastIndex()) SendAppend(m.from);
    return;
  }
  if (m.reject) {
    if (m.index <= p.match) return;  // stale: that part is already known to match
    switch (p.state) {
      case ProgressState::kSnapshot:
        return;  // an answer to an append sent before the snapshot
      case ProgressState::kReplicate:
        // Fall back to probing from what is known to match.
        p.state = ProgressState::kProbe;
        p.inflight.clear();
        p.inflight_bytes = 0;
        p.next_after = p.match;
        break;
      case ProgressState::kProbe:
        if (m.index != p.next_after) return;  // the answer to an older probe
        p.next_after =
            log_.BoundaryAtOrBefore(std::max(p.match, std::min(m.reject_hint, p.next_after - 1)));
        break;
    }
    p.probe_sent = false;
    SendAppend(m.from);
    return;
  }
  p.ticks_since_ack = 0;
  while (!p.inflight.empty() && p.inflight.front().first <= m.index) {
    p.inflight_bytes -= p.inflight.front().second;
    p.inflight.pop_front();
  }
  if (m.index > p.match) {
    p.match = m.index;
    MaybeCommit();
    if (role_ != Role::kLeader) return;  // committing our own removal stepped us down
  }
  if (p.state == ProgressState::kSnapshot && p.match < p.pending_snapshot) return;
  if (p.state != ProgressState::kReplicate) {
    p.state = ProgressState::kReplicate;
    p.probe_sent = false;
    p.inflight.clear();
    p.inflight_bytes = 0;
    p.next_after = p.match;
  }
  p.next_after = std::max(p.next_after, p.match);
  if (m.from == transferee_ && p.match == log_.LastIndex()) SendTimeoutNow(m.from);
  while (p.next_after < log_.LastIndex() && SendAppend(m.from)) {
  }
}

bool RaftNode::SendAppend(NodeId to) {
  Progress& p = progress_[to];
  switch (p.state) {
    case ProgressState::kSnapshot:
      return false;
    case ProgressState::kReplicate:
      if (p.inflight.size() >= config_.max_inflight_appends ||
          p.inflight_bytes >= config_.max_inflight_bytes) {
        return false;
      }
      break;
    case ProgressState::kProbe:
      if (p.probe_sent) return false;
      break;
  }
  if (p.next_after < log_.SnapshotIndex()) {
    SendSnapshot(to, p);
    return false;
  }
  auto prev_term = log_.TermAt(p.next_after);
  if (!prev_term.ok()) {
    // Not a boundary of our log: restart from the entry boundary before it.
    p.next_after = log_.BoundaryAtOrBefore(p.next_after);
    prev_term = log_.TermAt(p.next_after);
    if (!prev_term.ok()) {
      SendSnapshot(to, p);
      return false;
    }
  }
  const bool throttled =
      learners_throttled_ && p.next_after < p.catchup_until && conf().IsLearner(to);
  if (throttled && learner_budget_ <= 0) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = p.next_after;
  m.log_term = *prev_term;
  m.entries = log_.EntriesAfter(p.next_after, log_.LastIndex(), config_.max_entries_per_append,
                                config_.max_bytes_per_append);
  m.commit = commit_;
  size_t bytes = 0;
  for (const Entry& e : m.entries) bytes += EntryBytes(e);
  if (throttled) learner_budget_ -= static_cast<int64_t>(bytes);
  if (p.state == ProgressState::kReplicate) {
    if (m.entries.empty()) return false;  // nothing new: heartbeats keep the follower informed
    p.next_after = m.entries.back().index;
    p.inflight.emplace_back(p.next_after, bytes);
    p.inflight_bytes += bytes;
  } else {
    p.probe_sent = true;
  }
  Send(std::move(m));
  return true;
}

void RaftNode::SendSnapshot(NodeId to, Progress& p) {
  auto snapshot = log_.GetSnapshot();
  if (!snapshot.ok()) return;  // tried again on the next heartbeat answer
  p.state = ProgressState::kSnapshot;
  p.pending_snapshot = snapshot->meta.index;
  p.snapshot_ticks = 0;
  p.inflight.clear();
  p.inflight_bytes = 0;
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = *std::move(snapshot);
  Send(std::move(m));
}

void RaftNode::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

void RaftNode::GrantLearnerBytes(size_t bytes) {
  if (role_ != Role::kLeader || !learners_throttled_) return;
  const auto cap = static_cast<int64_t>(std::max(bytes, config_.max_bytes_per_append));
  learner_budget_ = std::min(learner_budget_ + static_cast<int64_t>(bytes), cap);
  for (NodeId learner : conf().learners) {
    auto it = progress_.find(learner);
    if (it == progress_.end()) continue;
    while (it->second.next_after < log_.LastIndex() && SendAppend(learner)) {
    }
  }
}

void RaftNode::BroadcastAppend() {
  for (auto& [peer, p] : progress_) SendAppend(peer);
}

void RaftNode::BroadcastHeartbeat(const std::string& context) {
  for (auto& [peer, p] : progress_) {
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = peer;
    m.commit = std::min(commit_, p.match);
    m.context = context;
    Send(std::move(m));
  }
}

Index RaftNode::AppendAsLeader(std::vector<Entry> entries) {
  const Index last = entries.back().index;
  const bool conf_changed = RecordConfEntries(entries);
  log_.Append(log_.LastIndex(), std::move(entries));
  if (conf_changed) ConfChanged();
  MaybeCommit();
  if (role_ == Role::kLeader) BroadcastAppend();
  return last;
}

void RaftNode::MaybeCommit() {
  if (role_ != Role::kLeader) return;
  std::vector<Index> matches;
  for (NodeId voter : conf().voters) {
    // This node counts only what it has persisted itself: its entries may go to the
    // followers before its own write is durable, and a commit must be durable on a majority.
    matches.push_back(voter == config_.id ? log_.persisted_index() : progress_[voter].match);
  }
  if (matches.empty()) return;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index quorum_index = matches[Quorum() - 1];
  if (quorum_index <= commit_) return;
  auto t = log_.TermAt(quorum_index);
  // Only an entry of the current term is committed by counting replicas (Figure 8).
  if (!t.ok() || *t != term_) return;
  CommitTo(quorum_index);
  if (!conf().IsVoter(config_.id) && confs_.size() == 1) {
    // Our own removal committed: tell the others, hand over to a voter that has everything
    // (rather than leave the group leaderless for an election timeout), and stop leading.
    BroadcastHeartbeat("");
    for (NodeId voter : conf().voters) {
      if (progress_[voter].match == log_.LastIndex()) {
        SendTimeoutNow(voter);
        break;
      }
    }
    BecomeFollower(term_, kNoNode);
  }
}

void RaftNode::CommitTo(Index index) {
  if (index <= commit_) return;
  // Callers clamp what a leader tells us to our own log; committing past it would hand out
  // entries that do not exist.
  RILL_CHECK(index <= log_.LastIndex());
  commit_ = index;
  // Configurations older than the newest committed one can no longer be truncated back to.
  while (confs_.size() > 1 && std::next(confs_.begin())->first <= commit_) {
    confs_.erase(confs_.begin());
  }
}

absl::StatusOr<Index> RaftNode::Propose(std::vector<Proposal> proposals) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(fmt::format("not the leader; leader is {}", leader_));
  }
  if (transferee_ != kNoNode) {
    return absl::FailedPreconditionError(fmt::format("leadership is moving to {}", transferee_));
  }
  if (proposals.empty()) return absl::InvalidArgumentError("nothing to propose");
  size_t bytes = 0;
  for (const Proposal& p : proposals) {
    if (p.offsets < 1) return absl::InvalidArgumentError("an entry covers at least one offset");
    bytes += p.data.size();
  }
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > config_.max_uncommitted_bytes) {
    return absl::ResourceExhaustedError(fmt::format("{} uncommitted bytes already; the limit is {}",
                                                    uncommitted_bytes_,
                                                    config_.max_uncommitted_bytes));
  }
  std::vector<Entry> entries;
  entries.reserve(proposals.size());
  Index index = log_.LastIndex();
  for (Proposal& p : proposals) {
    index += p.offsets;
    uncommitted_.emplace_back(index, p.data.size());
    entries.push_back(Entry{term_, index, EntryType::kNormal, std::move(p.data)});
  }
  uncommitted_bytes_ += bytes;
  return AppendAsLeader(std::move(entries));
}

absl::StatusOr<Index> RaftNode::ProposeConfChange(const ConfChange& change) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(fmt::format("not the leader; leader is {}", leader_));
  }
  if (transferee_ != kNoNode) {
    return absl::FailedPreconditionError(fmt::format("leadership is moving to {}", transferee_));
  }
  if (pending_conf_index_ > commit_) {
    if (log_.LastIndex() == Index(0)) {
      // A leader of a log never written appended no no-op (skip_noop_on_empty_log), but a
      // change still waits for an entry of its term to commit: it appends that one now.
      AppendAsLeader({Entry{term_, Index(1), EntryType::kNormal, ""}});
    }
    return absl::FailedPreconditionError(fmt::format(
        "entry {} must commit before another configuration change", pending_conf_index_));
  }
  auto next = ApplyConfChange(conf(), change);
  if (!next.ok()) return next.status();
  if (change.type == ConfChangeType::kAddVoter && conf().IsLearner(change.node)) {
    const Index match = progress_[change.node].match;
    if (match + config_.promotion_max_lag < log_.LastIndex()) {
      return absl::FailedPreconditionError(
          fmt::format("learner {} is at {}, more than {} behind {}", change.node, match,
                      config_.promotion_max_lag, log_.LastIndex()));
    }
  }
  const Index index = log_.LastIndex() + 1;
  pending_conf_index_ = index;
  return AppendAsLeader({Entry{term_, index, EntryType::kConfChange, EncodeConfChange(change)}});
}

absl::Status RaftNode::TransferLeadership(NodeId to) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(fmt::format("not the leader; leader is {}", leader_));
  }
  if (to == config_.id) return absl::OkStatus();
  if (!conf().IsVoter(to)) {
    return absl::InvalidArgumentError(fmt::format("node {} is not a voter", to));
  }
  if (transferee_ == to) return absl::OkStatus();
  transferee_ = to;
  // The transfer is abandoned if it has not happened an election timeout from now.
  election_elapsed_ = 0;
  if (progress_[to].match == log_.LastIndex()) {
    SendTimeoutNow(to);
  } else {
    SendAppend(to);
  }
  return absl::OkStatus();
}

// Reads.

absl::Status RaftNode::ReadIndex(std::string context) {
  if (role_ == Role::kLeader) {
    if (!CommittedInTerm()) {
      return absl::UnavailableError("the leader has not committed an entry of its term yet");
    }
    if (pending_reads_.size() >= config_.max_pending_reads) {
      return absl::ResourceExhaustedError(
          fmt::format("{} reads are already waiting", pending_reads_.size()));
    }
    HandleReadRequest(config_.id, std::move(context));
    return absl::OkStatus();
  }
  if (leader_ == kNoNode) return absl::UnavailableError("no leader is known");
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = leader_;
  m.context = std::move(context);
  Send(std::move(m));
  return absl::OkStatus();
}

void RaftNode::HandleReadRequest(NodeId from, std::string context) {
  // Until it commits in its term, a new leader's commit index may be behind the last leader's.
  if (!CommittedInTerm() || pending_reads_.size() >= config_.max_pending_reads) return;
  if (conf().voters.size() == 1 && conf().IsVoter(config_.id)) {
    AnswerRead(from, commit_, std::move(context));
    return;
  }
  PendingRead read{commit_, context, from, {}};
  if (conf().IsVoter(config_.id)) read.acks.insert(config_.id);
  pending_reads_.push_back(std::move(read));
  // A quorum answering this heartbeat proves we still led when the read arrived.
  BroadcastHeartbeat(context);
}

void RaftNode::HandleReadAck(NodeId from, const std::string& context) {
  auto it = std::find_if(pending_reads_.begin(), pending_reads_.end(),
                         [&](const PendingRead& r) { return r.context == context; });
  if (it == pending_reads_.end() || !conf().IsVoter(from)) return;
  it->acks.insert(from);
  if (it->acks.size() < Quorum()) return;
  // Confirming this read confirms every earlier one too.
  const auto end = std::next(it);
  for (auto r = pending_reads_.begin(); r != end; ++r) AnswerRead(r->from, r->index, r->context);
  pending_reads_.erase(pending_reads_.begin(), end);
}

void RaftNode::AnswerRead(NodeId to, Index index, std::string context) {
  if (to == config_.id) {
    read_states_.push_back(ReadState{index, std::move(context)});
    return;
  }
  Message m;
  m.type = MessageType::kReadIndexResponse;
  m.to = to;
  m.index = index;
  m.context = std::move(context);
  Send(std::move(m));
}

// Ready.

Ready RaftNode::TakeReady() {
  Ready ready;
  HardState now{term_, vote_, commit_};
  if (!(now == persisted_)) {
    ready.hard_state = now;
    persisted_ = now;
  }
  ready.snapshot = log_.unpersisted_snapshot();
  ready.entries_after = log_.unpersisted_after();
  ready.entries = log_.unpersisted_entries();
  handed_snapshot_ = ready.snapshot ? ready.snapshot->meta.index : Index();
  handed_index_ = ready.entries.empty() ? Index() : ready.entries.back().index;
  handed_term_ = ready.entries.empty() ? Term() : ready.entries.back().term;
  ready.messages.swap(outbox_);
  if (ready.snapshot) applied_ = std::max(applied_, ready.snapshot->meta.index);
  if (commit_ > applied_ && !config_.hand_out_committed) {
    applied_ = commit_;
  } else if (commit_ > applied_) {
    for (auto& e : log_.EntriesAfter(applied_, commit_, static_cast<size_t>(-1),
                                     config_.max_committed_bytes_per_ready)) {
      ready.committed.push_back(std::move(e));
    }
    if (!ready.committed.empty()) applied_ = ready.committed.back().index;
  }
  RILL_CHECK(applied_ <= commit_);
  while (!uncommitted_.empty() && uncommitted_.front().first <= applied_) {
    uncommitted_bytes_ -= std::min(uncommitted_bytes_, uncommitted_.front().second);
    uncommitted_.pop_front();
  }
  ready.applied_index = applied_;
  ready.read_states.swap(read_states_);
  return ready;
}

void RaftNode::Advance() {
  log_.Persisted(handed_snapshot_, handed_index_, handed_term_);
  // This node's own write may complete a quorum.
  MaybeCommit();
}

std::map<NodeId, Index> RaftNode::Matches() const {
  std::map<NodeId, Index> out;
  if (role_ != Role::kLeader) return out;
  for (const auto& [peer, p] : progress_) {
    if (peer != config_.id) out.emplace(peer, p.match);
  }
  return out;
}

std::string RaftNode::Describe() const {
  std::string out =
      fmt::format("{} term={} leader={} commit={} last={} voters=[{}]", RoleName(role_), term_,
                  leader_, commit_, log_.LastIndex(), fmt::join(conf().voters, ","));
  if (!conf().learners.empty())
    out += fmt::format(" learners=[{}]", fmt::join(conf().learners, ","));
  if (transferee_ != kNoNode) out += fmt::format(" transferring-to={}", transferee_);
  if (role_ != Role::kLeader) return out;
  for (const auto& [peer, p] : progress_) {
    const char* state = p.state == ProgressState::kProbe       ? "probe"
                        : p.state == ProgressState::kReplicate ? "replicate"
                                                               : "snapshot";
    out += fmt::format("\n  {}: {} match={} next-after={}", peer, state, p.match, p.next_after);
    if (!p.inflight.empty()) out += fmt::format(" inflight={}", p.inflight.size());
    if (p.state == ProgressState::kSnapshot) out += fmt::format(" pending={}", p.pending_snapshot);
    if (conf().IsLearner(peer)) out += " learner";
  }
  return out;
}

}  // namespace rill::raft
