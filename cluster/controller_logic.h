// ControllerLogic: what the controller decides, as metadata records to commit. The controller
// leader validates each request against the committed MetadataImage and returns the records
// that carry it out; the Raft driver proposes them and every broker applies them once
// committed. It also keeps the brokers' sessions, in memory only: heartbeats are not written to
// the log, only the fencing and unfencing they cause.
//
// Requests are decided one at a time against an image that includes every earlier decision's
// records (the driver waits for each to be applied), so two decisions never conflict.
//
// Pure: no I/O, no clock (times are passed in), no threads. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/metadata_image.h"
#include "cluster/topic_config.h"
#include "rill/v1/metadata_log.pb.h"
#include "storage/log_config.h"

namespace rill::cluster {

struct ControllerLimits {
  // broker.session.timeout.ms: a broker that has not heartbeated for this long is fenced.
  int64_t session_timeout_ms = 9000;
  int32_t max_partitions_per_topic = 10000;
  // Producer ids handed to a broker at a time.
  int64_t producer_id_block_size = 1000;
  // partition.move.throttle.bytes.per.second: a move's throttle when its request names none
  // (0: none).
  int64_t move_throttle_bytes_per_second = 100LL << 20;
  // partition.move.drain.max: moves in progress at once that draining brokers may start.
  int32_t drain_moves_max = 8;
  // The broker defaults topic configs are checked against.
  storage::LogConfig log_defaults;
};

struct BrokerRegistration {
  NodeId node;
  std::string cluster_id;
  // 16 random bytes per process start.
  std::string incarnation_id;
  std::vector<Endpoint> endpoints;
  std::string rack;
};

struct HeartbeatResult {
  // Records to commit (an unfencing) before answering.
  std::vector<v1::MetadataRecord> records;
  // Whether the broker stays fenced once `records` are committed.
  bool fenced = true;
};

struct ProducerIdBlock {
  std::vector<v1::MetadataRecord> records;
  int64_t first = 0;
  int64_t count = 0;
};

class ControllerLogic {
 public:
  ControllerLogic(std::string cluster_id, ControllerLimits limits);

  // On becoming the controller leader: every registered broker's session starts now, so each
  // has a whole session to find the new leader.
  void BecomeLeader(const MetadataImage& image, int64_t now_ms);

  // INCONSISTENT_CLUSTER_ID for another cluster's broker; DUPLICATE_BROKER_REGISTRATION while
  // another process holds the node id with a live session; INVALID_REQUEST for bad ids or
  // endpoints. The same process registering again gets no records.
  absl::StatusOr<std::vector<v1::MetadataRecord>> RegisterBroker(const MetadataImage& image,
                                                                 const BrokerRegistration& request,
                                                                 int64_t now_ms);

  // Renews the broker's session. A fenced broker that has applied the metadata log up to its
  // registration is unfenced. BROKER_NOT_REGISTERED, STALE_BROKER_EPOCH.
  absl::StatusOr<HeartbeatResult> Heartbeat(const MetadataImage& image, NodeId node,
                                            int64_t broker_epoch, Offset applied_offset,
                                            int64_t now_ms);

  // Ends `node`'s session at once: the controller knows the process that held it is gone (it
  // is this very broker, started again).
  void EndSession(NodeId node) { last_heartbeat_ms_.erase(node); }

  // Fences every unfenced broker whose session has expired by `now_ms`.
  std::vector<v1::MetadataRecord> ExpireSessions(const MetadataImage& image, int64_t now_ms) const;

  // Topic changes. Names are checked here (cluster/topic_names.h), but not whether a name is
  // internal: the broker creates its own topics through this path too.
  absl::StatusOr<std::vector<v1::MetadataRecord>> CreateTopic(const MetadataImage& image,
                                                              const std::string& name,
                                                              int32_t partitions,
                                                              int32_t replication_factor,
                                                              const TopicConfigs& configs) const;
  absl::StatusOr<std::vector<v1::MetadataRecord>> DeleteTopic(const MetadataImage& image,
                                                              const std::string& name) const;
  absl::StatusOr<std::vector<v1::MetadataRecord>> CreatePartitions(const MetadataImage& image,
                                                                   const std::string& name,
                                                                   int32_t total) const;
  absl::StatusOr<std::vector<v1::MetadataRecord>> AlterConfigs(
      const MetadataImage& image, const std::string& name, const TopicConfigs& set,
      const std::vector<std::string>& remove) const;

  // Moving replicas (docs/replication.md, "Moving replicas").
  //
  // Starts moving `partition` of `topic` to `replicas` (in preference order), copying the data
  // it holds at `throttle_bytes_per_second` (nullopt: the default; 0: unthrottled). The same
  // brokers in another order only change the preferred leader. INVALID_REPLICA_ASSIGNMENT for
  // a broker named twice, unregistered or being decommissioned (as a new replica);
  // NOT_ENOUGH_REPLICAS when a new replica is not live or either the replicas or the target
  // would lack a live majority; REASSIGNMENT_IN_PROGRESS while another move runs.
  absl::StatusOr<std::vector<v1::MetadataRecord>> ReassignPartition(
      const MetadataImage& image, const std::string& topic, int32_t partition,
      const std::vector<NodeId>& replicas, std::optional<int64_t> throttle_bytes_per_second) const;
  // Turns a move back toward the replicas it started from: every broker that took part keeps
  // the partition until the group is back. NO_REASSIGNMENT_IN_PROGRESS when it is not moving.
  absl::StatusOr<std::vector<v1::MetadataRecord>> CancelReassignment(const MetadataImage& image,
                                                                     const std::string& topic,
                                                                     int32_t partition) const;
  // A partition's leader reports that the group's voters are `voters` and it has no
  // learners: a move to exactly those ends. Nothing to do when the move already ended;
  // INVALID_REPLICA_ASSIGNMENT when they are not the move's target (a stale report).
  absl::StatusOr<std::vector<v1::MetadataRecord>> CompleteReassignment(
      const MetadataImage& image, TopicId topic_id, int32_t partition,
      const std::vector<NodeId>& voters) const;
  // Starts (or, with `decommissioning` false, stops) draining a broker: its replicas move to
  // other brokers a few partitions at a time (PlanDrains) and it gets no new ones; stopping
  // cancels the moves off it still in progress. NOT_ENOUGH_REPLICAS when too few other live
  // brokers remain to take its replicas.
  absl::StatusOr<std::vector<v1::MetadataRecord>> Decommission(const MetadataImage& image,
                                                               NodeId node,
                                                               bool decommissioning) const;
  // The moves that drain decommissioning brokers next, as many as fit under drain_moves_max
  // moves in progress: each replaces the broker with the live broker holding the fewest
  // replicas among those the partition is not on.
  std::vector<v1::MetadataRecord> PlanDrains(const MetadataImage& image) const;

  // The next block of producer ids for a registered broker.
  absl::StatusOr<ProducerIdBlock> AllocateProducerIds(const MetadataImage& image, NodeId node,
                                                      int64_t broker_epoch) const;

  const std::string& cluster_id() const { return cluster_id_; }
  const ControllerLimits& limits() const { return limits_; }

 private:
  absl::Status CheckBrokerEpoch(const MetadataImage& image, NodeId node,
                                int64_t broker_epoch) const;
  bool SessionAlive(NodeId node, int64_t now_ms) const;

  const std::string cluster_id_;
  const ControllerLimits limits_;
  absl::flat_hash_map<NodeId, int64_t> last_heartbeat_ms_;
};

}  // namespace rill::cluster
