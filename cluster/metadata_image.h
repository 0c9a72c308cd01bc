// MetadataImage: the cluster's metadata as of some offset of the metadata log, built by applying
// its records (rill.v1.MetadataRecord, docs/cluster.md) in order. Every broker holds one: the
// controller decides against it, the partition manager reconciles what it hosts with it, and
// the handlers answer Metadata from it. Applying the same records gives every broker the same
// image.
//
// Pure: no I/O, no clock, no threads. Not thread-safe; its owner serializes access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/ids.h"
#include "cluster/topic_config.h"
#include "rill/v1/metadata_log.pb.h"

namespace rill::cluster {

// The version of MetadataRecord this code writes and reads.
inline constexpr uint32_t kMetadataRecordVersion = 1;

// An empty record of the current version.
v1::MetadataRecord NewMetadataRecord();

// The most replicas a partition may have.
inline constexpr int kReplicasMax = 64;

// The endpoint names a broker registers: where clients connect, and where brokers do.
inline constexpr char kClientListener[] = "client";
inline constexpr char kBrokerListener[] = "broker";

struct Endpoint {
  std::string name;
  std::string host;
  int32_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct BrokerInfo {
  NodeId id;
  // 16 random bytes per process start.
  std::string incarnation_id;
  int64_t epoch = 0;
  std::vector<Endpoint> endpoints;
  std::string rack;
  // A fenced broker gets no new leaderships and its partitions count as offline.
  bool fenced = true;
  // The metadata offset of its registration: it is unfenced once it has applied this far.
  Offset registered_at;
  friend bool operator==(const BrokerInfo&, const BrokerInfo&) = default;
};

struct PartitionAssignment {
  // The first replica is the preferred leader.
  std::vector<NodeId> replicas;
  NodeId leader;
  int32_t leader_epoch = 0;
  // A move in progress: where the replicas are going (empty: none), and its throttle in
  // bytes per second (0: none).
  std::vector<NodeId> target_replicas;
  int64_t move_throttle_bytes_per_second = 0;
  // The Raft group's first members (empty: `replicas`).
  std::vector<NodeId> initial_replicas;

  bool moving() const { return !target_replicas.empty(); }
  // The brokers that host the partition: the replicas and, during a move, its targets.
  std::vector<NodeId> Hosts() const;
  // The members every replica's log begins with.
  const std::vector<NodeId>& FirstMembers() const {
    return initial_replicas.empty() ? replicas : initial_replicas;
  }
  friend bool operator==(const PartitionAssignment&, const PartitionAssignment&) = default;
};

struct TopicInfo {
  std::string name;
  TopicId id;
  int32_t replication_factor = 1;
  TopicConfigs configs;
  // Indexed by partition number.
  std::vector<PartitionAssignment> partitions;
  friend bool operator==(const TopicInfo&, const TopicInfo&) = default;
};

// The record form of a partition's assignment (topic id and partition number left to the
// caller).
void FillPartitionRecord(const PartitionAssignment& assignment, v1::MetadataRecord::Partition* r);

class MetadataImage {
 public:
  // Applies `record`, read at `offset` of the metadata log (offsets never go down; the records
  // of a snapshot all carry the snapshot's offset). DataLoss for a record this image cannot
  // take: an unknown version or kind, a topic or partition that does not fit. Such a log is
  // damaged or from a newer broker, and skipping a record would fork this image from the
  // others'. On error the image is unchanged.
  absl::Status Apply(const v1::MetadataRecord& record, Offset offset);

  // The records that rebuild this image when applied to an empty one (a snapshot's content).
  std::vector<v1::MetadataRecord> ToRecords() const;

  // The offset of the last record applied; -1 before any.
  Offset offset() const { return offset_; }
  const std::map<NodeId, BrokerInfo>& brokers() const { return brokers_; }
  const BrokerInfo* Broker(NodeId id) const;
  // Brokers that are registered and not fenced, by id.
  std::vector<NodeId> LiveBrokers() const;
  // Brokers being drained of their replicas (rillctl broker decommission).
  const std::set<NodeId>& decommissioning() const { return decommissioning_; }
  bool Decommissioning(NodeId id) const { return decommissioning_.contains(id); }
  // The largest broker epoch given so far (0 before any registration).
  int64_t max_broker_epoch() const { return max_broker_epoch_; }

  const std::map<TopicId, TopicInfo>& topics() const { return topics_; }
  const TopicInfo* Topic(TopicId id) const;
  const TopicInfo* TopicByName(std::string_view name) const;

  // The first producer id not yet handed out.
  int64_t next_producer_id() const { return next_producer_id_; }

  friend bool operator==(const MetadataImage&, const MetadataImage&) = default;

 private:
  absl::Status ApplyRegisterBroker(const v1::MetadataRecord::RegisterBroker& r, Offset offset);
  absl::Status ApplyBrokerFencing(const v1::MetadataRecord::BrokerFencing& r);
  absl::Status ApplyUnregisterBroker(const v1::MetadataRecord::UnregisterBroker& r);
  absl::Status ApplyTopic(const v1::MetadataRecord::Topic& r);
  absl::Status ApplyPartition(const v1::MetadataRecord::Partition& r);
  absl::Status ApplyTopicConfigs(const v1::MetadataRecord::TopicConfigs& r);
  absl::Status ApplyRemoveTopic(const v1::MetadataRecord::RemoveTopic& r);
  absl::Status ApplyProducerIds(const v1::MetadataRecord::ProducerIds& r);
  absl::Status ApplyBrokerDecommission(const v1::MetadataRecord::BrokerDecommission& r);
  TopicInfo* MutableTopic(const std::string& id_bytes);

  Offset offset_{-1};
  std::map<NodeId, BrokerInfo> brokers_;
  int64_t max_broker_epoch_ = 0;
  std::set<NodeId> decommissioning_;
  std::map<TopicId, TopicInfo> topics_;
  std::map<std::string, TopicId, std::less<>> topic_ids_by_name_;
  int64_t next_producer_id_ = 0;
};

}  // namespace rill::cluster
