// TopicRegistry: the partition manager. It knows every topic of the cluster and hosts this
// broker's partitions of them, kept matching the committed metadata by Reconcile.
//
// Each topic is a rill.v1.TopicRecord in the MetaStore (key "topics/<name>"), with the
// partitions this broker hosts; each hosted partition is the storage Log
// cluster::PartitionLogName(name, topic id, partition). On start, Load() reopens them
// (recovering them), so the broker serves before it has caught up with the metadata log.
//
// Errors carry rill.v1 error codes (broker/api_error.h). Thread-safety: all methods are
// thread-safe; a Partition handed out stays valid while held, even if its topic is deleted
// (its log is then closed and refuses work).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "cluster/topic_config.h"
#include "rill/v1/metadata.pb.h"
#include "storage/log_manager.h"
#include "storage/meta_store.h"

namespace rill::cluster {

struct TopicLimits {
  // File descriptors a create or grow must leave free (for connections, the metadata store and
  // the segments existing partitions roll into).
  int64_t files_reserved = 1024;
};

// Descriptors a new partition opens: its segment's log, offset index and time index.
inline constexpr int64_t kFilesPerPartition = 3;

// A partition whose log could not be opened at start (corrupt, unreadable): it is offline,
// with this error, while the broker serves the others.
struct OfflinePartition {
  std::string topic;
  int32_t partition = 0;
  absl::Status error;
};

class TopicRegistry {
 public:
  // Hosted partitions are Raft groups run with `replication`; `listener` hears when this
  // broker starts or stops leading one.
  TopicRegistry(storage::MetaStore* meta, storage::LogManager* logs,
                storage::LogConfig log_defaults, TopicLimits limits, ReplicaContext replication,
                Partition::LeadershipListener listener);
  // Closes every hosted partition's Raft group.
  ~TopicRegistry();

  // Reopens every stored topic's hosted partitions. A partition whose log cannot be recovered
  // is offline (see Offline()), not an error; log directories of no topic (a create or delete
  // cut short by a crash) are removed. Errors: the metadata store could not be read.
  absl::Status Load();

  // The partition manager's step (docs/cluster.md, "Reconciliation"): makes what this broker
  // holds match the committed metadata. Topics of the image are recorded here (every broker
  // knows every topic) and the partitions `self` is a replica of are opened or created, each a
  // Raft group on its replicas; topics that left the image, or whose name now belongs to a
  // newer topic, are removed with their logs and Raft state. Topics stored before the cluster
  // existed are kept until the image takes them over. Failures to open a log leave that
  // partition offline and are logged.
  void Reconcile(const MetadataImage& image);

  // Hands a Raft message to the hosted partition of `group`; false when none is hosted here.
  bool Deliver(const rpc::GroupKey& group, raft::Message message) const;
  // One tick of every hosted partition's Raft clock.
  void Tick() const;
  // Applies retention to every hosted partition (Partition::EnforceRetention).
  void EnforceRetention() const;
  // Hands leadership of up to `transfers_max` partitions this broker leads back to their
  // preferred replicas where those have caught up (Partition::ReturnLeadershipToPreferred);
  // returns how many transfers started.
  int BalanceLeaders(int transfers_max) const;
  // Topics stored by this broker before it belonged to a cluster (none once reconciled).
  std::vector<v1::TopicRecord> LegacyTopics() const;

  std::optional<v1::TopicRecord> Get(const std::string& name) const;
  std::vector<v1::TopicRecord> List() const;
  // UNKNOWN_TOPIC or UNKNOWN_PARTITION when absent, STORAGE_ERROR when offline, NOT_LEADER
  // (naming the leader) when another broker hosts it.
  absl::StatusOr<std::shared_ptr<cluster::Partition>> GetPartition(const std::string& topic,
                                                                   int32_t partition) const;
  // The online partitions of a topic, in order.
  std::vector<std::shared_ptr<cluster::Partition>> Partitions(const std::string& topic) const;
  // Every online partition of every topic (for metrics).
  std::vector<std::shared_ptr<cluster::Partition>> AllPartitions() const;
  // Who leads a partition as this broker knows it: its own Raft view for a partition hosted
  // here (authoritative within a term), the preferred replica per the metadata otherwise.
  // leader is kNoNode while there is none; in_sync is known on the leader only (the replicas
  // holding everything committed), elsewhere it is the leader alone.
  struct LeaderView {
    NodeId leader;
    int64_t epoch = -1;
    std::vector<NodeId> in_sync;
    bool hosted = false;
  };
  LeaderView Leader(const std::string& topic, int32_t partition) const;
  // The leader clients are told of, or nullopt when there is none to name: a replica's own
  // Raft view names the leader of its term; the metadata's leader is only a guess, good while
  // that broker is alive (unfenced in `image`).
  std::optional<LeaderView> KnownLeader(const std::string& topic, int32_t partition,
                                        const MetadataImage& image) const;
  // Every offline partition, by topic and partition.
  std::vector<OfflinePartition> Offline() const;

  // INVALID_PARTITIONS when opening `partitions` more would leave fewer descriptors free than
  // the reserve.
  absl::Status CheckFileBudget(int32_t partitions) const;
  // What this broker checks before asking the controller to grow `topic` to `total`
  // partitions: not an internal topic, and files to open them (the controller checks the rest).
  absl::Status CheckAddPartitions(const std::string& topic, int32_t total) const;

  const storage::LogConfig& log_defaults() const { return log_defaults_; }
  // The log settings of a topic: defaults plus its configs.
  storage::LogConfig LogConfigFor(const v1::TopicRecord& topic) const;

 private:
  struct Topic {
    v1::TopicRecord record;
    // One per partition; null for an offline one, whose error is in `offline`, and for one
    // hosted elsewhere.
    std::vector<std::shared_ptr<cluster::Partition>> partitions;
    std::map<int32_t, absl::Status> offline;
    // Each partition's preferred leader per the metadata (empty before it is reconciled): the
    // answer for a partition hosted elsewhere.
    std::vector<NodeId> leaders;
  };

  // Gives a topic stored before topics had ids its id, and moves its partition directories
  // from "<topic>-<partition>" to their names with the id.
  absl::Status MigrateToTopicId(v1::TopicRecord* record,
                                const absl::flat_hash_set<std::string>& dirs);
  absl::Status Store(const v1::TopicRecord& record);
  // A partition a move took off this broker, to close and delete.
  struct Dropped {
    v1::TopicRecord record;
    int32_t index = 0;
    std::shared_ptr<Partition> partition;
  };
  void ReconcileLocked(
      const MetadataImage& image,
      std::vector<std::pair<v1::TopicRecord, std::vector<std::shared_ptr<Partition>>>>* removed,
      std::vector<Dropped>* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether this broker hosts `partition` of a stored topic.
  bool Hosts(const v1::TopicRecord& record, int32_t partition) const;
  // The members a partition's Raft group began with, per the record (this broker alone for a
  // topic stored before the cluster).
  std::vector<NodeId> FirstMembersOf(const v1::TopicRecord& record, int32_t partition) const;
  // The preferred leader and any move in progress, per the record.
  Partition::Assignment AssignmentOf(const v1::TopicRecord& record, int32_t partition) const;
  // Deletes a partition's log, Raft state and producer state snapshot (once it is closed).
  void DeletePartitionData(const v1::TopicRecord& record, int32_t partition);
  // Closes the partitions and deletes the logs and Raft state of a removed topic (without the
  // registry's lock: closing waits for the partitions' Raft work, which may call back here).
  void Remove(const v1::TopicRecord& record,
              const std::vector<std::shared_ptr<Partition>>& partitions);
  // Opens (creating) the log of a hosted partition; a failure leaves it offline.
  void OpenHosted(Topic* topic, int32_t partition, const storage::LogConfig& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::MetaStore* const meta_;
  storage::LogManager* const logs_;
  const storage::LogConfig log_defaults_;
  const TopicLimits limits_;
  const ReplicaContext replication_;
  const Partition::LeadershipListener listener_;
  mutable absl::Mutex mu_;
  std::map<std::string, Topic> topics_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<rpc::GroupKey, std::shared_ptr<Partition>> by_group_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::cluster
