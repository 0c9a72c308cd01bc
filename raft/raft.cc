#include "raft/raft.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::raft {

RaftNode::RaftNode(RaftConfig config, RaftLog* log, HardState state)
    : config_(std::move(config)),
      log_(log),
      rng_(config_.seed * 1000003 + static_cast<uint64_t>(config_.id)),
      term_(state.term),
      vote_(state.vote),
      commit_(std::min(state.commit, log->LastIndex())),
      persisted_(state) {
  // applied_ starts at 0: a restarted node hands out every committed entry again, from which
  // the caller rebuilds its state machine.
  ResetRandomizedTimeout();
}

void RaftNode::ResetRandomizedTimeout() {
  randomized_timeout_ = config_.election_ticks +
                        static_cast<int>(rng_() % static_cast<uint64_t>(config_.election_ticks));
}

Term RaftNode::LastTerm() const {
  auto t = log_->TermAt(log_->LastIndex());
  return t.ok() ? *t : 0;
}

bool RaftNode::LogUpToDate(Index index, Term log_term) const {
  const Term last_term = LastTerm();
  return log_term > last_term || (log_term == last_term && index >= log_->LastIndex());
}

void RaftNode::Send(Message m) {
  m.from = config_.id;
  if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResponse) {
    if (m.term == 0) m.term = term_;
  }
  outbox_.push_back(std::move(m));
}

void RaftNode::BecomeFollower(Term term, NodeId leader) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  election_elapsed_ = 0;
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
  progress_.clear();
  for (NodeId peer : config_.voters) {
    Progress& p = progress_[peer];
    p.next_after = log_->LastIndex();
    p.recent_active = true;
  }
  // The new leader's first entry commits everything before it (only entries of the current
  // term are committed by counting).
  const Index index = log_->LastIndex() + 1;
  log_->TruncateAndAppend(log_->LastIndex(), {Entry{term_, index, ""}});
  progress_[config_.id].match = index;
  progress_[config_.id].next_after = index;
  MaybeCommit();
  BroadcastAppend();
}

void RaftNode::Campaign(bool pre_vote) {
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
      Campaign(false);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
    m.to = peer;
    m.term = campaign_term;
    m.index = log_->LastIndex();
    m.log_term = LastTerm();
    Send(std::move(m));
  }
}

void RaftNode::Tick() {
  ++election_elapsed_;
  if (role_ == Role::kLeader) {
    if (++heartbeat_elapsed_ >= config_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      BroadcastHeartbeat();
    }
    if (election_elapsed_ >= config_.election_ticks) {
      election_elapsed_ = 0;
      if (config_.check_quorum) {
        size_t active = 0;
        for (auto& [peer, p] : progress_) {
          if (peer == config_.id || p.recent_active) ++active;
          p.recent_active = false;
        }
        // A leader cut off from a quorum steps down rather than keep a stale lease.
        if (active < Quorum()) BecomeFollower(term_, kNoNode);
      }
    }
    return;
  }
  if (election_elapsed_ >= randomized_timeout_) Campaign(config_.pre_vote);
}

void RaftNode::Step(const Message& m) {
  const bool is_vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (is_vote_request && config_.check_quorum && leader_ != kNoNode &&
        election_elapsed_ < config_.election_ticks) {
      return;  // we heard from a leader recently: it is not gone
    }
    if (m.type == MessageType::kPreVote) {
      // Answered below without changing our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A grant carries the term the pre-candidate would campaign in.
    } else {
      const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat;
      BecomeFollower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat) {
      // A stale leader: our term in the answer makes it step down.
      Message r;
      r.type = MessageType::kAppendResponse;
      r.to = m.from;
      r.reject = true;
      r.index = m.index;
      r.reject_hint = log_->LastIndex();
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
      if (role_ == Role::kLeader) return;  // cannot happen: one leader per term
      if (role_ != Role::kFollower) BecomeFollower(term_, m.from);
      leader_ = m.from;
      election_elapsed_ = 0;
      HandleAppend(m);
      break;
    case MessageType::kAppendResponse:
    case MessageType::kHeartbeatResponse:
      if (role_ == Role::kLeader) HandleAppendResponse(m);
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
  votes_.try_emplace(m.from, !m.reject);
  size_t granted = 0, rejected = 0;
  for (const auto& [peer, yes] : votes_) (yes ? granted : rejected)++;
  if (granted >= Quorum()) {
    if (pre) {
      Campaign(false);
    } else {
      BecomeLeader();
    }
  } else if (rejected >= Quorum()) {
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
    commit_ = std::max(commit_, std::min(m.commit, log_->LastIndex()));
    Send(std::move(r));
    return;
  }
  if (m.index < commit_) {
    // Everything up to our commit is settled; report it so the leader moves on.
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  auto prev_term = log_->TermAt(m.index);
  if (!prev_term.ok() || *prev_term != m.log_term) {
    r.reject = true;
    r.index = m.index;
    // Hint: where our log may still agree, skipping a whole conflicting term at once.
    Index hint = log_->BoundaryAtOrBefore(std::min(m.index, log_->LastIndex()));
    if (hint == m.index) {
      const Term conflict = *prev_term;
      while (hint > 0) {
        const Index before = log_->BoundaryAtOrBefore(hint - 1);
        auto t = log_->TermAt(hint);
        if (!t.ok() || *t != conflict) break;
        hint = before;
      }
    }
    r.reject_hint = std::min(hint, m.index - 1);
    Send(std::move(r));
    return;
  }
  Index prev = m.index;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    auto t = log_->TermAt(e.index);
    if (!t.ok() || *t != e.term) {
      // Everything from here on is replaced by the leader's entries.
      log_->TruncateAndAppend(prev, {m.entries.begin() + static_cast<long>(i), m.entries.end()});
      break;
    }
    prev = e.index;
  }
  const Index last_new = m.entries.empty() ? m.index : m.entries.back().index;
  commit_ = std::max(commit_, std::min(m.commit, last_new));
  r.index = last_new;
  Send(std::move(r));
}

void RaftNode::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.recent_active = true;
  if (m.type == MessageType::kHeartbeatResponse) {
    // The follower is reachable: an unanswered probe or a full window may have been lost.
    p.probe_sent = false;
    if (p.replicate && p.inflight.size() >= config_.max_inflight_appends) p.inflight.pop_front();
    if (p.match < log_->LastIndex()) SendAppend(m.from);
    return;
  }
  if (m.reject) {
    if (m.index <= p.match) return;  // stale: that part is already known to match
    if (p.replicate) {
      // Fall back to probing from what is known to match.
      p.replicate = false;
      p.inflight.clear();
      p.next_after = p.match;
    } else {
      if (m.index != p.next_after) return;  // the answer to an older probe
      p.next_after =
          log_->BoundaryAtOrBefore(std::max(p.match, std::min(m.reject_hint, p.next_after - 1)));
    }
    p.probe_sent = false;
    SendAppend(m.from);
    return;
  }
  while (!p.inflight.empty() && p.inflight.front() <= m.index) p.inflight.pop_front();
  if (m.index > p.match) {
    p.match = m.index;
    MaybeCommit();
  }
  if (!p.replicate) {
    p.replicate = true;
    p.probe_sent = false;
    p.inflight.clear();
    p.next_after = p.match;
  }
  p.next_after = std::max(p.next_after, p.match);
  if (p.next_after < log_->LastIndex()) SendAppend(m.from);
}

void RaftNode::SendAppend(NodeId to) {
  Progress& p = progress_[to];
  if (p.replicate ? p.inflight.size() >= config_.max_inflight_appends : p.probe_sent) return;
  auto prev_term = log_->TermAt(p.next_after);
  if (!prev_term.ok()) {
    // Not a boundary of our log (cannot happen without snapshots): restart from the match.
    p.next_after = log_->BoundaryAtOrBefore(p.next_after);
    prev_term = log_->TermAt(p.next_after);
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = p.next_after;
  m.log_term = *prev_term;
  m.entries = log_->EntriesAfter(p.next_after, config_.max_entries_per_append);
  m.commit = commit_;
  if (p.replicate) {
    if (m.entries.empty()) return;  // nothing new: heartbeats keep the follower informed
    p.next_after = m.entries.back().index;
    p.inflight.push_back(p.next_after);
  } else {
    p.probe_sent = true;
  }
  Send(std::move(m));
}

void RaftNode::BroadcastAppend() {
  for (NodeId peer : config_.voters) {
    if (peer != config_.id) SendAppend(peer);
  }
}

void RaftNode::BroadcastHeartbeat() {
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = peer;
    m.commit = std::min(commit_, progress_[peer].match);
    Send(std::move(m));
  }
}

void RaftNode::MaybeCommit() {
  std::vector<Index> matches;
  for (NodeId peer : config_.voters) {
    matches.push_back(peer == config_.id ? log_->LastIndex() : progress_[peer].match);
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index quorum_index = matches[Quorum() - 1];
  if (quorum_index <= commit_) return;
  auto t = log_->TermAt(quorum_index);
  // Only an entry of the current term is committed by counting replicas (Figure 8).
  if (t.ok() && *t == term_) commit_ = quorum_index;
}

absl::StatusOr<Index> RaftNode::Propose(std::string data, int64_t offsets) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(fmt::format("not the leader; leader is {}", leader_));
  }
  if (offsets < 1) return absl::InvalidArgumentError("an entry covers at least one offset");
  const Index index = log_->LastIndex() + offsets;
  log_->TruncateAndAppend(log_->LastIndex(), {Entry{term_, index, std::move(data)}});
  progress_[config_.id].match = index;
  MaybeCommit();
  BroadcastAppend();
  return index;
}

Ready RaftNode::TakeReady() {
  Ready ready;
  HardState now{term_, vote_, commit_};
  if (!(now == persisted_)) {
    ready.hard_state = now;
    persisted_ = now;
  }
  ready.messages.swap(outbox_);
  if (commit_ > applied_) {
    for (auto& e : log_->EntriesAfter(applied_, static_cast<size_t>(-1))) {
      if (e.index > commit_) break;
      ready.committed.push_back(std::move(e));
    }
    applied_ = commit_;
  }
  return ready;
}

}  // namespace rill::raft
