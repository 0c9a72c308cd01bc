// RaftGroup: runs one raft::RaftNode over a StorageRaftLog: the driver the pure core needs
// (docs/raft.md, "The core's interface"). For each Ready, in order: install a snapshot, append
// the entries (through the log's flusher, group committed), then persist the hard state
// (MetaStore, synced) when its term or vote changed, then, once all is durable, send the
// messages (rpc::Transport), apply the committed entries, answer the proposals the Ready
// satisfied and Advance. Only one Ready is in progress at a time; what happens meanwhile
// gathers in the next.
//
// The commit index alone is not persisted on every change: it is volatile in Raft, and a
// restarted replica learns it again from its leader (a one-voter group from its own no-op).
// That keeps a synced metadata write off the produce path.
//
// All work of a group runs on its strand of a shared io_context: messages from the transport
// (gRPC threads), ticks and proposals are posted there, so no gRPC thread ever waits for a disk
// and many groups share a few threads. Ticks come from the owner's one clock.
//
// Thread-safety: all public methods are thread-safe. Close before destroying.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "cluster/storage_raft_log.h"
#include "raft/raft.h"
#include "rpc/codec.h"
#include "rpc/transport.h"
#include "storage/meta_store.h"

namespace rill::cluster {

struct RaftGroupStatus {
  raft::Role role = raft::Role::kFollower;
  raft::Term term;
  NodeId leader;
  raft::Index commit;
  raft::Index last_index;
  raft::ConfState conf;
  // Committed and durable here: a partition's high watermark.
  raft::Index applied;
  // A leader that has committed an entry of its own term: only then may it serve reads (its
  // high watermark is never behind an earlier leader's).
  bool serving = false;
  // On a leader: each other member's matched index.
  std::map<NodeId, raft::Index> matches;
};

// What a proposal's answer waits for.
enum class ReplicateWait {
  // Durable in this replica's log (acks=leader).
  kLocalDurable,
  // Committed: durable on a majority of the voters (acks=all).
  kCommitted,
};

// What a group calls back into its state machine, on the group's strand.
struct RaftGroupCallbacks {
  // Committed entries, in order.
  std::function<void(const std::vector<raft::Entry>& committed)> apply;
  // The leader sent a snapshot and it is installed: the state machine starts over from its
  // data (entries after it follow through `apply`). Unset for a partition, whose log is its
  // state.
  std::function<void(const raft::Snapshot& snapshot)> restore;
  // The data of the newest snapshot, for a follower that needs one.
  StorageRaftLog::SnapshotReader read_snapshot;
  // After each Ready is done, when the status changed (applied index, role, leader, term).
  std::function<void(const RaftGroupStatus& status)> changed;
  // Before a Ready's entries are written: they replace everything after `after`. An error
  // stops the group as a failed write does.
  std::function<absl::Status(raft::Index after, const std::vector<raft::Entry>& entries)>
      appending;
  // A snapshot was installed: the log continues after `index`.
  std::function<void(raft::Index index)> snapshot_installed;
};

// A state machine's say over one proposal, on the group's strand, while this replica leads.
struct ProposalGate {
  // Before proposing: nullopt to propose; the index of an entry that already holds the batch,
  // to answer with that instead (once it meets the same wait); or an error to refuse it.
  std::function<absl::StatusOr<std::optional<raft::Index>>()> admit;
  // Once proposed as the entry ending at `index` in `term`.
  std::function<void(raft::Index index, raft::Term term)> proposed;
};

class RaftGroup : public std::enable_shared_from_this<RaftGroup> {
 public:
  using ProposeDone = std::function<void(absl::StatusOr<raft::Index>)>;

  // Restores the hard state and snapshot point from `meta` and the log from `log`.
  static absl::StatusOr<std::shared_ptr<RaftGroup>> Open(rpc::GroupKey key, raft::RaftConfig config,
                                                         std::shared_ptr<storage::Log> log,
                                                         storage::MetaStore* meta,
                                                         rpc::Transport* transport,
                                                         asio::io_context* io,
                                                         RaftGroupCallbacks callbacks);

  void Tick();
  // A message from a peer (called by the transport's handler).
  void Deliver(raft::Message message);
  // Proposes one batch covering `offsets` offsets; `done` gets its index, or FailedPrecondition
  // naming the leader on a follower.
  void Propose(std::string batch, int64_t offsets, ProposeDone done);
  // Proposes one batch covering `offsets` offsets and answers with its index once `wait` is
  // met in the term it was proposed in. Unavailable naming the new leader when this replica
  // stops leading first (the batch may still be committed by the next leader: the outcome is
  // unknown to the writer), FailedPrecondition naming the leader on a follower,
  // ResourceExhausted beyond the uncommitted-bytes limit.
  // `gate`, when set, is asked first (see ProposalGate).
  void Replicate(std::string batch, int64_t offsets, ReplicateWait wait, ProposeDone done,
                 ProposalGate gate = {});
  void Campaign();
  // Hands leadership to voter `to` (raft::RaftNode::TransferLeadership); `done` gets whether
  // the transfer started: FailedPrecondition naming the leader on a follower.
  void TransferLeadership(NodeId to, std::function<void(absl::Status)> done);
  // Throttles what the leader sends learners copying the log (raft::RaftNode::
  // ThrottleLearners) and grants them `grant` more bytes; nullopt lifts the throttle.
  void ThrottleLearners(std::optional<size_t> grant);
  // Runs `work` on the group's strand, unless the group is closed by then.
  void Run(std::function<void()> work);
  // Proposes a membership change; `done` as for Propose.
  void ProposeConfChange(raft::ConfChange change, ProposeDone done);
  // Makes `index` (an entry boundary the state machine has applied and saved a snapshot of)
  // the log's compaction point; what lies before it may be deleted. `done` gets the outcome.
  void Compact(raft::Index index, std::function<void(absl::Status)> done);
  // Stops taking work and waits for the Ready in progress. Idempotent.
  void Close();

  // Removes what a closed group of `key` stored in `meta` (a deleted partition's).
  static absl::Status DeleteState(storage::MetaStore* meta, const rpc::GroupKey& key);

  RaftGroupStatus status() const;
  const rpc::GroupKey& key() const { return key_; }
  const StorageRaftLog& log() const { return *raft_log_; }

 private:
  RaftGroup(rpc::GroupKey key, storage::MetaStore* meta, rpc::Transport* transport,
            asio::io_context* io, RaftGroupCallbacks callbacks);

  // Runs work(open) on the strand, counted for Close; `open` is false once the group is closed
  // or stopped (then work(false) may run on the calling thread), so callbacks still get an
  // answer.
  template <typename Work>
  void OnStrand(Work work);
  // On the strand: takes the next Ready if none is in progress and starts persisting it.
  void Drive();
  // On the strand, once the Ready's writes are durable (or failed).
  void Finish(std::shared_ptr<raft::Ready> ready, absl::Status persisted);
  // Returns whether what the `changed` callback reports differs from before.
  bool UpdateStatus();
  // Stores the hard state when its term or vote changed.
  absl::Status PersistHardState(const raft::Ready& ready);
  // Answers the Replicate proposals the durable state now satisfies, or fails them all when
  // this replica no longer leads in their term.
  void AnswerWaiters(raft::Index durable, raft::Index applied);
  void FailWaiters(const absl::Status& status);
  // Queues `done` to be answered with `index` once `wait` is met, in index order.
  void AddWaiter(ReplicateWait wait, raft::Index index, ProposeDone done);
  std::string HardStateKey() const;
  std::string SnapshotKey() const;

  const rpc::GroupKey key_;
  std::unique_ptr<StorageRaftLog> raft_log_;
  storage::MetaStore* const meta_;
  rpc::Transport* const transport_;
  asio::strand<asio::io_context::executor_type> strand_;
  const RaftGroupCallbacks callbacks_;
  // Touched only on the strand.
  std::unique_ptr<raft::RaftNode> node_;
  bool persisting_ = false;
  bool failed_ = false;
  raft::HardState persisted_state_;
  struct Waiter {
    raft::Term term;
    raft::Index index;
    ProposeDone done;
  };
  // In index order, each answered by its wait level.
  std::deque<Waiter> durable_waiters_;
  std::deque<Waiter> commit_waiters_;
  // The newest entry this replica has durably written (the end of the last persisted Ready).
  raft::Index durable_index_;
  // Committed and durable here (Ready::applied_index of the last Ready done).
  raft::Index applied_index_;
  // A partition's: nothing to apply but the commit index itself (hand_out_committed false).
  bool commit_follows_log_ = false;
  // The term whose entry has been committed here, once the leader of that term has one.
  raft::Term serving_term_{-1};

  mutable absl::Mutex mu_;
  RaftGroupStatus status_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool waiters_closed_ ABSL_GUARDED_BY(mu_) = false;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
};

// The persisted hard state, version 1: [1][term i64][vote i32][commit i64], big-endian.
std::string EncodeHardState(const raft::HardState& state);
absl::StatusOr<raft::HardState> DecodeHardState(std::string_view bytes);

}  // namespace rill::cluster
