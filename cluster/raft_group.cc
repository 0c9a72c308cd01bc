#include "cluster/raft_group.h"

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

std::string RaftGroup::HardStateKey() const {
  return fmt::format("raft/{}-{}/hard-state", key_.topic, key_.partition);
}

std::string RaftGroup::SnapshotKey() const {
  return fmt::format("raft/{}-{}/snapshot", key_.topic, key_.partition);
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
  auto node = raft::RaftNode::Create(std::move(config), group->raft_log_.get(), state);
  if (!node.ok()) return node.status();
  group->node_ = std::move(*node);
  group->UpdateStatus();
  return group;
}

void RaftGroup::UpdateStatus() {
  RaftGroupStatus s{node_->role(),   node_->term(),      node_->leader(),
                    node_->commit(), node_->LastIndex(), node_->conf()};
  absl::MutexLock lock(&mu_);
  status_ = s;
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
  UpdateStatus();
  if (persisting_ || failed_) return;
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
  }
  if (status.ok() && ready->hard_state) {
    status = meta_->Put(HardStateKey(), EncodeHardState(*ready->hard_state));
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
}

void RaftGroup::Finish(std::shared_ptr<raft::Ready> ready, absl::Status persisted) {
  persisting_ = false;
  if (!persisted.ok()) {
    // Nothing may be sent for state that is not durable; the group stops and reports.
    failed_ = true;
    logging::Error("raft", "group {}-{} failed to persist and stopped: {}", key_.topic,
                   key_.partition, persisted.message());
  } else {
    for (raft::Message& m : ready->messages) transport_->Send(key_, std::move(m));
    if (ready->snapshot && callbacks_.restore) callbacks_.restore(*ready->snapshot);
    if (!ready->committed.empty() && callbacks_.apply) callbacks_.apply(ready->committed);
    node_->Advance();
    Drive();
  }
  absl::MutexLock lock(&mu_);
  --pending_;
}

void RaftGroup::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  mu_.Await(absl::Condition(
      +[](int* pending) { return *pending == 0; }, &pending_));
}

}  // namespace rill::cluster
