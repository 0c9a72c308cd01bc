// Controller: this broker's part in the controller quorum (docs/cluster.md). It runs the
// metadata log as a Raft group (rpc::kControllerGroup) over a storage::Log of its own, applies
// its committed records to a MetadataImage, and, on the quorum's leader, decides requests with
// ControllerLogic and commits the records that carry them out. Every broker runs one: the
// voters (controller.quorum.voters) elect the leader, every other broker follows the log as a
// learner, so every broker holds the whole image.
//
// Decisions are taken one at a time, each against an image that includes every earlier one's
// records: a request waits until the previous one's records are applied. A new leader decides
// nothing until it has applied everything committed before its term (its no-op).
//
// The image is snapshotted into the MetaStore every `snapshot_interval_records` records, and
// the log compacted up to it, so a restart starts from the snapshot rather than the log's
// beginning; a learner behind the compaction point gets the snapshot from the leader.
//
// Thread-safety: all public methods are thread-safe and never block on the network or the
// disk; replies come on the group's strand.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "cluster/controller_logic.h"
#include "cluster/metadata_image.h"
#include "cluster/raft_group.h"
#include "rpc/controller_api.h"
#include "rpc/transport.h"
#include "storage/log_manager.h"
#include "storage/meta_store.h"

namespace rill::cluster {

// A topic a broker stored before it belonged to a cluster, handed to the controller of a
// one-voter cluster to take into the metadata log (keeping its id).
struct LegacyTopic {
  std::string name;
  TopicId id;
  int32_t partitions = 0;
  TopicConfigs configs;
};

struct ControllerOptions {
  NodeId self;
  std::string cluster_id;
  // The voters' broker-to-broker addresses, by node id.
  std::map<NodeId, std::string> voters;
  // This broker process's incarnation id: its own registration replaces any earlier one of
  // its node id at once (that process is gone), without waiting for the old session to end.
  std::string self_incarnation_id;
  ControllerLimits limits;
  // Raft tuning; the id and the bootstrap voters are set from the above.
  raft::RaftConfig raft;
  // metadata.snapshot.interval.records: records applied between image snapshots.
  int64_t snapshot_interval_records = 1000;
  // The metadata log's segments (small: the log is compacted often).
  storage::LogConfig log;
  std::vector<LegacyTopic> legacy_topics;
};

// The canonical form of a voter list: "id@host:port" sorted by id, comma-separated.
std::string CanonicalVoters(const std::map<NodeId, std::string>& voters);
// Parses "1@host:port,2@host:port"; InvalidArgument naming what is wrong.
absl::StatusOr<std::map<NodeId, std::string>> ParseVoters(std::string_view text);

struct ControllerStatus {
  RaftGroupStatus raft;
  // Whether this broker leads the quorum and has applied everything before its term.
  bool active = false;
  Offset metadata_offset{-1};
  // The offset of the newest image snapshot (-1: none yet), and how many this process took.
  Offset snapshot_offset{-1};
  int64_t snapshots_written = 0;
  // Whether the image was restored from a snapshot at start.
  bool restored_from_snapshot = false;
};

class Controller final : public rpc::ControllerHandler {
 public:
  using ImageListener = std::function<void(const std::shared_ptr<const MetadataImage>&)>;

  // Opens the metadata log (restoring the image from the newest snapshot) and its Raft group.
  // `listener` gets every new image, on the group's strand, before requests waiting for it are
  // answered.
  static absl::StatusOr<std::unique_ptr<Controller>> Open(ControllerOptions options,
                                                          storage::LogManager* logs,
                                                          storage::MetaStore* meta,
                                                          rpc::Transport* transport,
                                                          asio::io_context* io,
                                                          ImageListener listener);
  ~Controller() override;

  // Drives the quorum: a Raft tick; on the leader, session expiry and learner membership.
  void Tick(int64_t now_ms);
  void Deliver(raft::Message message) { group_->Deliver(std::move(message)); }
  // Starts an election now (a lone voter need not wait for its election timeout).
  void Campaign() { group_->Campaign(); }
  // Stops deciding (waiting requests get NOT_CONTROLLER) and closes the Raft group.
  void Close();

  std::shared_ptr<const MetadataImage> image() const;
  // Runs `done` once the image includes `offset` (at once if it does), or with Unavailable
  // if the controller closes first.
  void WaitForOffset(Offset offset, std::function<void(absl::Status)> done);
  ControllerStatus status() const;
  bool IsVoter(NodeId node) const { return options_.voters.contains(node); }
  const ControllerOptions& options() const { return options_; }

  // rpc::ControllerHandler: on the leader, decided and committed; elsewhere NOT_CONTROLLER
  // naming the leader.
  void RegisterBroker(const rpc::RegisterBrokerRequest& request, rpc::Reply<int64_t> reply) override;
  void BrokerHeartbeat(const rpc::BrokerHeartbeatRequest& request, rpc::Reply<bool> reply) override;
  void ChangeTopic(const rpc::TopicChangeRequest& request, rpc::Reply<Offset> reply) override;
  void AllocateProducerIds(const rpc::AllocateProducerIdsRequest& request,
                           rpc::Reply<rpc::ProducerIdRange> reply) override;

 private:
  using Decide = std::function<absl::StatusOr<std::vector<v1::MetadataRecord>>(
      const MetadataImage& image, ControllerLogic& logic, int64_t now_ms)>;
  // Gets the outcome, and the image offset once the records are applied.
  using Done = std::function<void(absl::Status, Offset)>;
  struct Decision {
    Decide decide;
    Done done;
  };
  struct InFlight {
    Done done;
    raft::Term term;
    // Unknown (0) until the proposal returns.
    raft::Index index;
  };
  using Later = std::vector<std::function<void()>>;

  Controller(ControllerOptions options, storage::MetaStore* meta, ImageListener listener);

  void Enqueue(Decision decision);
  // Takes the next decision if none is in flight; what must run unlocked goes to `later`.
  void RunNextLocked(Later* later) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Proposed(absl::StatusOr<raft::Index> index);
  void FailAllLocked(const absl::Status& status, Later* later) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NotController() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // On the strand: committed entries and installed snapshots.
  void ApplyCommitted(const std::vector<raft::Entry>& entries);
  void Restore(const raft::Snapshot& snapshot);
  // Takes a snapshot of the image at raft index `index` when enough records have passed.
  void MaybeSnapshotLocked(raft::Index index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterApplyLocked(Later* later) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> ReadSnapshot() const;
  // Proposes the import of the legacy topics, once, on a fresh one-voter cluster.
  void MaybeImportLegacyTopicsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ControllerOptions options_;
  const std::string canonical_voters_;
  storage::MetaStore* const meta_;
  const ImageListener listener_;
  std::shared_ptr<storage::Log> log_;
  std::shared_ptr<RaftGroup> group_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const MetadataImage> image_ ABSL_GUARDED_BY(mu_);
  ControllerLogic logic_ ABSL_GUARDED_BY(mu_);
  int64_t now_ms_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Leadership as last seen: the term led, and the index this leader must apply before
  // deciding (its no-op).
  raft::Term led_term_ ABSL_GUARDED_BY(mu_);
  raft::Index ready_index_ ABSL_GUARDED_BY(mu_);
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  bool legacy_imported_ ABSL_GUARDED_BY(mu_) = false;
  bool expiry_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool conf_change_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool drains_queued_ ABSL_GUARDED_BY(mu_) = false;
  raft::Index applied_index_ ABSL_GUARDED_BY(mu_);
  std::deque<Decision> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  std::multimap<Offset, std::function<void(absl::Status)>> waiters_ ABSL_GUARDED_BY(mu_);
  Offset snapshot_offset_ ABSL_GUARDED_BY(mu_){-1};
  int64_t snapshots_written_ ABSL_GUARDED_BY(mu_) = 0;
  bool restored_from_snapshot_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace rill::cluster
