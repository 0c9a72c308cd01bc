#include "cluster/raft_group.h"

#include <algorithm>

#include "base/logging.h"
#include "format/big_endian.h"

namespace rill::cluster {
namespace {

constexpr uint8_t kHardStateVersion = 1;
constexpr size_t kHardStateBytes = 21;
constexpr uint8_t kSnapshotMetaVersion = 1;
constexpr uint32_t kMembersMax = 64;

std::string EncodeSnapshotMeta(const raft::SnapshotMeta& meta) {
  std::string out(1 + 8 + 8 + 4, '\0');
  out[0] = static_cast<char>(kSnapshotMetaVersion);
  format::StoreI64(out.data() + 1, meta.index.value());
  format::StoreI64(out.data() + 9, meta.term.value());
  format::StoreU32(out.data() + 17, static_cast<uint32_t>(meta.conf.voters.size()));
  auto put = [&](NodeId id) {
    char b[4];
    format::StoreI32(b, id.value());
    out.append(b, 4);
  };
  for (NodeId v : meta.conf.voters) put(v);
  char count[4];
  format::StoreU32(count, static_cast<uint32_t>(meta.conf.learners.size()));
  out.append(count, 4);
  for (NodeId l : meta.conf.learners) put(l);
  return out;
}

absl::StatusOr<raft::SnapshotMeta> DecodeSnapshotMeta(std::string_view bytes) {
  auto corrupt = [] { return absl::DataLossError("stored Raft snapshot point is corrupt"); };
  if (bytes.size() < 21 || static_cast<uint8_t>(bytes[0]) != kSnapshotMetaVersion) {
    return corrupt();
  }
  raft::SnapshotMeta meta;
  meta.index = raft::Index(format::LoadI64(bytes.data() + 1));
  meta.term = raft::Term(format::LoadI64(bytes.data() + 9));
  size_t pos = 17;
  for (auto* members : {&meta.conf.voters, &meta.conf.learners}) {
    if (bytes.size() < pos + 4) return corrupt();
    const uint32_t n = format::LoadU32(bytes.data() + pos);
    pos += 4;
    if (n > kMembersMax || bytes.size() < pos + 4 * size_t{n}) return corrupt();
    for (uint32_t i = 0; i < n; ++i, pos += 4) {
      members->push_back(NodeId(format::LoadI32(bytes.data() + pos)));
    }
  }
  if (pos != bytes.size()) return corrupt();
  return meta;
}

}  // namespace

std::string EncodeHardState(const raft::HardState& state) {
  std::string out(kHardStateBytes, '\0');
  out[0] = static_cast<char>(kHardStateVersion);
  format::StoreI64(out.data() + 1, state.term.value());
  format::StoreI32(out.data() + 9, state.vote.value());
  format::StoreI64(out.data() + 13, state.commit.value());
  return out;
}

absl::StatusOr<raft::HardState> DecodeHardState(std::string_view bytes) {
  if (bytes.size() != kHardStateBytes || static_cast<uint8_t>(bytes[0]) != kHardStateVersion) {
    return absl::DataLossError("stored Raft hard state is corrupt");
  }
  raft::HardState state;
  state.term = raft::Term(format::LoadI64(bytes.data() + 1));
  state.vote = NodeId(format::LoadI32(bytes.data() + 9));
  state.commit = raft::Index(format::LoadI64(bytes.data() + 13));
  return state;
}

namespace {
std::string HardStateKeyOf(const rpc::GroupKey& key) {
  return fmt::format("raft/{}-{}/hard-state", key.topic, key.partition);
}
std::string SnapshotKeyOf(const rpc::GroupKey& key) {
  return fmt::format("raft/{}-{}/snapshot", key.topic, key.partition);
}
}  // namespace

std::string RaftGroup::HardStateKey() const { return HardStateKeyOf(key_); }

std::string RaftGroup::SnapshotKey() const { return SnapshotKeyOf(key_); }

absl::Status RaftGroup::DeleteState(storage::MetaStore* meta, const rpc::GroupKey& key) {
  absl::Status s = meta->Delete(HardStateKeyOf(key));
  if (s.ok()) s = meta->Delete(SnapshotKeyOf(key));
  return s;
}

RaftGroup::RaftGroup(rpc::GroupKey key, storage::MetaStore* meta, rpc::Transport* transport,
                     asio::io_context* io, RaftGroupCallbacks callbacks)
    : key_(key),
      meta_(meta),
      transport_(transport),
      strand_(asio::make_strand(*io)),
      callbacks_(std::move(callbacks)) {}

absl::StatusOr<std::shared_ptr<RaftGroup>> RaftGroup::Open(
    rpc::GroupKey key, raft::RaftConfig config, std::shared_ptr<storage::Log> log,
    storage::MetaStore* meta, rpc::Transport* transport, asio::io_context* io,
    RaftGroupCallbacks callbacks) {
  std::shared_ptr<RaftGroup> group(new RaftGroup(key, meta, transport, io, std::move(callbacks)));
  raft::SnapshotMeta snapshot;
  auto stored_snapshot = meta->Get(group->SnapshotKey());
  if (!stored_snapshot.ok()) return stored_snapshot.status();
  if (*stored_snapshot) {
    auto decoded = DecodeSnapshotMeta(**stored_snapshot);
    if (!decoded.ok()) return decoded.status();
    snapshot = *decoded;
  }
  group->raft_log_ = std::make_unique<StorageRaftLog>(std::move(log), snapshot,
                                                      group->callbacks_.read_snapshot);
  raft::HardState state;
  auto stored = meta->Get(group->HardStateKey());
  if (!stored.ok()) return stored.status();
  if (*stored) {
    auto decoded = DecodeHardState(**stored);
    if (!decoded.ok()) return decoded.status();
    state = *decoded;
  }
  // The hard state is written after a Ready's entries, so a crash between them leaves entries
  // of a term the stored state has not reached yet; a replica holding them was in that term.
  auto last_term = group->raft_log_->TermAt(group->raft_log_->LastIndex());
  if (last_term.ok() && *last_term > state.term) {
    state.term = *last_term;
    state.vote = kNoNode;
  }
  // The commit is written only with a new term or vote, possibly ahead of entries a crash
  // then kept from the disk; it is a hint Raft relearns, so it is clamped to the log.
  state.commit = std::min(state.commit, group->raft_log_->LastIndex());
  group->persisted_state_ = state;
  group->commit_follows_log_ = !config.hand_out_committed;
  group->applied_index_ = snapshot.index;
  group->durable_index_ = group->raft_log_->LastIndex();
  auto node = raft::RaftNode::Create(std::move(config), group->raft_log_.get(), state);
  if (!node.ok()) return node.status();
  group->node_ = std::move(*node);
  group->UpdateStatus();
  return group;
}

bool RaftGroup::UpdateStatus() {
  RaftGroupStatus s;
  s.role = node_->role();
  s.term = node_->term();
  s.leader = node_->leader();
  s.commit = node_->commit();
  s.last_index = node_->LastIndex();
  s.conf = node_->conf();
  s.applied = applied_index_;
  s.serving = s.role == raft::Role::kLeader && serving_term_ == s.term;
  s.matches = node_->Matches();
  absl::MutexLock lock(&mu_);
  const bool changed = s.applied != status_.applied || s.role != status_.role ||
                       s.term != status_.term || s.leader != status_.leader ||
                       s.serving != status_.serving;
  status_ = std::move(s);
  return changed;
}

RaftGroupStatus RaftGroup::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

template <typename Work>
void RaftGroup::OnStrand(Work work) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      work(false);
      return;
    }
    ++pending_;
  }
  asio::post(strand_, [self = shared_from_this(), work = std::move(work)]() mutable {
    bool open;
    {
      absl::MutexLock lock(&self->mu_);
      open = !self->closed_ && !self->failed_;
    }
    work(open);
    if (open) self->Drive();
    absl::MutexLock lock(&self->mu_);
    --self->pending_;
  });
}

void RaftGroup::Tick() {
  OnStrand([this](bool open) {
    if (open) node_->Tick();
  });
}

void RaftGroup::Campaign() {
  OnStrand([this](bool open) {
    if (open) (void)node_->Campaign();
  });
}

void RaftGroup::TransferLeadership(NodeId to, std::function<void(absl::Status)> done) {
  OnStrand([this, to, done = std::move(done)](bool open) {
    if (!open) {
      done(absl::UnavailableError("the Raft group is closed or stopped"));
      return;
    }
    done(node_->TransferLeadership(to));
  });
}

void RaftGroup::ThrottleLearners(std::optional<size_t> grant) {
  OnStrand([this, grant](bool open) {
    if (!open) return;
    node_->ThrottleLearners(grant.has_value());
    if (grant) node_->GrantLearnerBytes(*grant);
  });
}

void RaftGroup::Run(std::function<void()> work) {
  OnStrand([work = std::move(work)](bool open) {
    if (open) work();
  });
}

void RaftGroup::Deliver(raft::Message message) {
  OnStrand([this, message = std::move(message)](bool open) {
    if (open) node_->Step(message);
  });
}

void RaftGroup::Propose(std::string batch, int64_t offsets, ProposeDone done) {
  OnStrand([this, batch = std::move(batch), offsets, done = std::move(done)](bool open) mutable {
    if (!open) {
      done(absl::UnavailableError("the Raft group is closed or stopped"));
      return;
    }
    done(node_->Propose(std::move(batch), offsets));
  });
}

void RaftGroup::Replicate(std::string batch, int64_t offsets, ReplicateWait wait,
                          ProposeDone done, ProposalGate gate) {
  OnStrand([this, batch = std::move(batch), offsets, wait, done = std::move(done),
            gate = std::move(gate)](bool open) mutable {
    if (!open) {
      done(absl::UnavailableError("the Raft group is closed or stopped"));
      return;
    }
    if (gate.admit && node_->role() == raft::Role::kLeader) {
      auto admitted = gate.admit();
      if (!admitted.ok()) {
        done(admitted.status());
        return;
      }
      if (*admitted) {
        AddWaiter(wait, **admitted, std::move(done));
        AnswerWaiters(durable_index_, applied_index_);
        return;
      }
    }
    auto index = node_->Propose(std::move(batch), offsets);
    if (!index.ok()) {
      done(index.status());
      return;
    }
    if (gate.proposed) gate.proposed(*index, node_->term());
    AddWaiter(wait, *index, std::move(done));
  });
}

void RaftGroup::AddWaiter(ReplicateWait wait, raft::Index index, ProposeDone done) {
  auto& waiters = wait == ReplicateWait::kLocalDurable ? durable_waiters_ : commit_waiters_;
  auto at = std::upper_bound(waiters.begin(), waiters.end(), index,
                             [](raft::Index i, const Waiter& w) { return i < w.index; });
  waiters.insert(at, Waiter{node_->term(), index, std::move(done)});
}

void RaftGroup::AnswerWaiters(raft::Index durable, raft::Index applied) {
  const bool leading = node_->role() == raft::Role::kLeader;
  for (auto [waiters, reached] : {std::pair{&durable_waiters_, durable},
                                  std::pair{&commit_waiters_, applied}}) {
    while (!waiters->empty()) {
      Waiter& front = waiters->front();
      if (!leading || front.term != node_->term()) {
        FailWaiters(absl::UnavailableError(fmt::format(
            "leadership moved before the write was acknowledged; leader is {}", node_->leader())));
        return;
      }
      if (front.index > reached) break;
      ProposeDone done = std::move(front.done);
      const raft::Index index = front.index;
      waiters->pop_front();
      done(index);
    }
  }
}

void RaftGroup::FailWaiters(const absl::Status& status) {
  std::deque<Waiter> waiters;
  for (auto* list : {&durable_waiters_, &commit_waiters_}) {
    for (Waiter& w : *list) waiters.push_back(std::move(w));
    list->clear();
  }
  for (Waiter& w : waiters) w.done(status);
}

void RaftGroup::ProposeConfChange(raft::ConfChange change, ProposeDone done) {
  OnStrand([this, change, done = std::move(done)](bool open) {
    if (!open) {
      done(absl::UnavailableError("the Raft group is closed or stopped"));
      return;
    }
    done(node_->ProposeConfChange(change));
  });
}

void RaftGroup::Compact(raft::Index index, std::function<void(absl::Status)> done) {
  OnStrand([this, index, done = std::move(done)](bool open) {
    if (!open) {
      done(absl::UnavailableError("the Raft group is closed or stopped"));
      return;
    }
    if (index > node_->commit()) {
      done(absl::InvalidArgumentError(fmt::format(
          "cannot compact through {}: only {} is committed", index, node_->commit())));
      return;
    }
    auto term = raft_log_->TermAt(index);
    if (!term.ok()) {
      done(term.status());
      return;
    }
    raft::SnapshotMeta snapshot{index, *term, node_->ConfAt(index)};
    // The point is stored first: a restart then never looks for entries before it.
    absl::Status s = meta_->Put(SnapshotKey(), EncodeSnapshotMeta(snapshot));
    if (s.ok()) s = raft_log_->Compact(snapshot);
    done(s);
  });
}

void RaftGroup::Drive() {
  if (UpdateStatus() && callbacks_.changed) callbacks_.changed(status());
  if (persisting_ || failed_) return;
  if (node_->role() != raft::Role::kLeader &&
      (!durable_waiters_.empty() || !commit_waiters_.empty())) {
    AnswerWaiters(durable_index_, applied_index_);
  }
  auto ready = std::make_shared<raft::Ready>(node_->TakeReady());
  if (ready->empty()) return;
  persisting_ = true;
  {
    absl::MutexLock lock(&mu_);
    ++pending_;
  }
  absl::Status status;
  if (ready->snapshot) {
    status = meta_->Put(SnapshotKey(), EncodeSnapshotMeta(ready->snapshot->meta));
    if (status.ok()) status = raft_log_->InstallSnapshot(ready->snapshot->meta);
    if (status.ok() && callbacks_.snapshot_installed) {
      callbacks_.snapshot_installed(ready->snapshot->meta.index);
    }
  }
  // A new term or vote is on disk before anything that depends on it goes out.
  if (status.ok()) status = PersistHardState(*ready);
  if (status.ok() && !ready->entries.empty() && callbacks_.appending) {
    status = callbacks_.appending(ready->entries_after, ready->entries);
  }
  if (!status.ok() || ready->entries.empty()) {
    Finish(ready, status);
    return;
  }
  // The flusher completes the append on its own thread; the rest continues on the strand. An
  // error reaches the callback too, so the returned one adds nothing.
  raft_log_
      ->Append(ready->entries_after, ready->entries,
               [self = shared_from_this(), ready](absl::Status durable) {
                 asio::post(self->strand_,
                            [self, ready, durable] { self->Finish(ready, durable); });
               })
      .IgnoreError();
  // The entries are written (to the page cache) and the hard state is durable: all but the
  // answers that promise these entries are on disk may go now, so a leader's followers write
  // in parallel with its own sync. The core counts the leader itself only once persisted.
  std::vector<raft::Message> later;
  for (raft::Message& m : ready->messages) {
    if (m.type == raft::MessageType::kAppendResponse) {
      later.push_back(std::move(m));
    } else {
      transport_->Send(key_, std::move(m));
    }
  }
  ready->messages = std::move(later);
}

absl::Status RaftGroup::PersistHardState(const raft::Ready& ready) {
  if (!ready.hard_state || (ready.hard_state->term == persisted_state_.term &&
                            ready.hard_state->vote == persisted_state_.vote)) {
    return absl::OkStatus();
  }
  absl::Status s = meta_->Put(HardStateKey(), EncodeHardState(*ready.hard_state));
  if (s.ok()) persisted_state_ = *ready.hard_state;
  return s;
}

void RaftGroup::Finish(std::shared_ptr<raft::Ready> ready, absl::Status persisted) {
  persisting_ = false;
  if (!persisted.ok()) {
    // Nothing may be sent for state that is not durable; the group stops and reports.
    failed_ = true;
    logging::Error("raft", "group {}-{} failed to persist and stopped: {}", key_.topic,
                   key_.partition, persisted.message());
    FailWaiters(absl::UnavailableError(
        fmt::format("the replica stopped: {}", persisted.message())));
  } else {
    if (!ready->entries.empty()) {
      durable_index_ = ready->entries.back().index;
    } else if (ready->snapshot) {
      durable_index_ = ready->snapshot->meta.index;
    }
    for (raft::Message& m : ready->messages) transport_->Send(key_, std::move(m));
    if (ready->snapshot && callbacks_.restore) callbacks_.restore(*ready->snapshot);
    if (!ready->committed.empty() && callbacks_.apply) callbacks_.apply(ready->committed);
    applied_index_ = std::max(applied_index_, ready->applied_index);
    node_->Advance();
    // A partition's high watermark moves as soon as this replica's own write completes a
    // quorum, without waiting for the next Ready (everything through it is durable here).
    if (commit_follows_log_) {
      applied_index_ = std::max(applied_index_, std::min(node_->commit(), durable_index_));
    }
    if (node_->role() == raft::Role::kLeader && serving_term_ != node_->term() &&
        applied_index_ >= node_->serving_index()) {
      serving_term_ = node_->term();
    }
    // The new high watermark is published before any answer that promises it: a client that
    // reads right after its acknowledgement must find its record below the watermark.
    if (UpdateStatus() && callbacks_.changed) callbacks_.changed(status());
    AnswerWaiters(durable_index_, applied_index_);
    Drive();
  }
  absl::MutexLock lock(&mu_);
  --pending_;
}

void RaftGroup::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &pending_));
    if (waiters_closed_) return;
    waiters_closed_ = true;
  }
  // No strand work runs once nothing is pending, so the waiters are ours here.
  FailWaiters(absl::UnavailableError("the replica is shutting down"));
}

}  // namespace rill::cluster
