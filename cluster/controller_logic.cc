#include "cluster/controller_logic.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/error.h"
#include "cluster/placement.h"
#include "cluster/topic_names.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace rill::cluster {
namespace {

using api::ApiError;

constexpr size_t kIncarnationIdBytes = 16;
constexpr int kEndpointsMax = 16;

v1::MetadataRecord FencingRecord(const BrokerInfo& broker, bool fenced) {
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_broker_fencing();
  r->set_node_id(broker.id.value());
  r->set_broker_epoch(broker.epoch);
  r->set_fenced(fenced);
  return record;
}

v1::MetadataRecord PartitionRecord(TopicId topic, int32_t partition,
                                   const std::vector<NodeId>& replicas) {
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_partition();
  r->set_topic_id(topic.ToBytes());
  r->set_partition(partition);
  for (NodeId replica : replicas) r->add_replicas(replica.value());
  r->set_leader(replicas.front().value());
  r->set_leader_epoch(0);
  return record;
}

absl::Status CheckEndpoints(const std::vector<Endpoint>& endpoints) {
  if (endpoints.empty() || endpoints.size() > kEndpointsMax) {
    return ApiError(v1::INVALID_REQUEST, fmt::format("a broker registers 1 to {} endpoints, not {}",
                                                     kEndpointsMax, endpoints.size()));
  }
  std::set<std::string> names;
  for (const Endpoint& e : endpoints) {
    if (e.name.empty() || e.host.empty() || e.port < 1 || e.port > 65535) {
      return ApiError(v1::INVALID_REQUEST,
                      fmt::format("endpoint '{}' {}:{} needs a name, a host and a port "
                                  "1-65535",
                                  e.name, e.host, e.port));
    }
    if (!names.insert(e.name).second) {
      return ApiError(v1::INVALID_REQUEST, fmt::format("endpoint '{}' given twice", e.name));
    }
  }
  return absl::OkStatus();
}

// Live brokers that may take new replicas: not being decommissioned.
std::vector<NodeId> PlaceableBrokers(const MetadataImage& image) {
  std::vector<NodeId> out;
  for (NodeId id : image.LiveBrokers()) {
    if (!image.Decommissioning(id)) out.push_back(id);
  }
  return out;
}

bool IsLive(const MetadataImage& image, NodeId id) {
  const BrokerInfo* broker = image.Broker(id);
  return broker != nullptr && !broker->fenced;
}

bool Contains(const std::vector<NodeId>& nodes, NodeId id) {
  return std::find(nodes.begin(), nodes.end(), id) != nodes.end();
}

// OK when at least a majority of `nodes` is live.
absl::Status CheckLiveMajority(const MetadataImage& image, const std::vector<NodeId>& nodes,
                               std::string_view what) {
  std::vector<NodeId> down;
  for (NodeId id : nodes) {
    if (!IsLive(image, id)) down.push_back(id);
  }
  if ((nodes.size() - down.size()) * 2 > nodes.size()) return absl::OkStatus();
  return ApiError(v1::NOT_ENOUGH_REPLICAS,
                  fmt::format("{} [{}] would have {} live of {}, fewer than a majority (down: {})",
                              what, fmt::join(nodes, ","), nodes.size() - down.size(),
                              nodes.size(), fmt::join(down, ",")));
}

v1::MetadataRecord AssignmentRecord(TopicId topic, int32_t partition,
                                    const PartitionAssignment& assignment) {
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_partition();
  r->set_topic_id(topic.ToBytes());
  r->set_partition(partition);
  FillPartitionRecord(assignment, r);
  return record;
}

// A move turned back toward the replicas it started from: any broker of the move may be a
// member by now, so all keep the partition until the group is back.
PartitionAssignment TurnedBack(const PartitionAssignment& current) {
  PartitionAssignment next = current;
  next.replicas = current.Hosts();
  next.target_replicas = current.replicas;
  return next;
}

absl::Status UnknownTopic(const std::string& name) {
  return ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", name));
}

// The topic and assignment of `partition` of topic `name`: UNKNOWN_TOPIC, UNKNOWN_PARTITION.
absl::StatusOr<std::pair<const TopicInfo*, const PartitionAssignment*>> FindPartition(
    const MetadataImage& image, const std::string& name, int32_t partition) {
  const TopicInfo* topic = image.TopicByName(name);
  if (topic == nullptr) return UnknownTopic(name);
  if (partition < 0 || partition >= static_cast<int32_t>(topic->partitions.size())) {
    return ApiError(v1::UNKNOWN_PARTITION,
                    fmt::format("topic '{}' has no partition {}", name, partition));
  }
  return std::pair{topic, &topic->partitions[static_cast<size_t>(partition)]};
}

}  // namespace

ControllerLogic::ControllerLogic(std::string cluster_id, ControllerLimits limits)
    : cluster_id_(std::move(cluster_id)), limits_(std::move(limits)) {}

void ControllerLogic::BecomeLeader(const MetadataImage& image, int64_t now_ms) {
  last_heartbeat_ms_.clear();
  for (const auto& [id, broker] : image.brokers()) last_heartbeat_ms_[id] = now_ms;
}

bool ControllerLogic::SessionAlive(NodeId node, int64_t now_ms) const {
  auto it = last_heartbeat_ms_.find(node);
  return it != last_heartbeat_ms_.end() && now_ms - it->second < limits_.session_timeout_ms;
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::RegisterBroker(
    const MetadataImage& image, const BrokerRegistration& request, int64_t now_ms) {
  if (request.cluster_id != cluster_id_) {
    return ApiError(v1::INCONSISTENT_CLUSTER_ID,
                    fmt::format("broker {} belongs to cluster '{}', not to this cluster '{}'",
                                request.node, request.cluster_id, cluster_id_));
  }
  if (request.node <= kNoNode) {
    return ApiError(v1::INVALID_REQUEST, fmt::format("node id {} is not positive", request.node));
  }
  if (request.incarnation_id.size() != kIncarnationIdBytes) {
    return ApiError(v1::INVALID_REQUEST, "the incarnation id is not 16 bytes");
  }
  if (auto s = CheckEndpoints(request.endpoints); !s.ok()) return s;
  if (const BrokerInfo* existing = image.Broker(request.node)) {
    if (existing->incarnation_id == request.incarnation_id) {
      last_heartbeat_ms_[request.node] = now_ms;
      return std::vector<v1::MetadataRecord>();
    }
    if (!existing->fenced && SessionAlive(request.node, now_ms)) {
      return ApiError(v1::DUPLICATE_BROKER_REGISTRATION,
                      fmt::format("node id {} is held by another running broker (at {}); "
                                  "give each broker its own node.id",
                                  request.node,
                                  existing->endpoints.empty()
                                      ? std::string("?")
                                      : fmt::format("{}:{}", existing->endpoints[0].host,
                                                    existing->endpoints[0].port)));
    }
  }
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_register_broker();
  r->set_node_id(request.node.value());
  r->set_incarnation_id(request.incarnation_id);
  r->set_rack(request.rack);
  r->set_broker_epoch(image.max_broker_epoch() + 1);
  for (const Endpoint& e : request.endpoints) {
    auto* endpoint = r->add_endpoints();
    endpoint->set_name(e.name);
    endpoint->set_host(e.host);
    endpoint->set_port(e.port);
  }
  last_heartbeat_ms_[request.node] = now_ms;
  return std::vector<v1::MetadataRecord>{std::move(record)};
}

absl::Status ControllerLogic::CheckBrokerEpoch(const MetadataImage& image, NodeId node,
                                               int64_t broker_epoch) const {
  const BrokerInfo* broker = image.Broker(node);
  if (broker == nullptr) {
    return ApiError(v1::BROKER_NOT_REGISTERED, fmt::format("broker {} is not registered", node));
  }
  if (broker->epoch != broker_epoch) {
    return ApiError(v1::STALE_BROKER_EPOCH,
                    fmt::format("broker {} has epoch {}, not {}: register again", node,
                                broker->epoch, broker_epoch));
  }
  return absl::OkStatus();
}

absl::StatusOr<HeartbeatResult> ControllerLogic::Heartbeat(const MetadataImage& image, NodeId node,
                                                           int64_t broker_epoch,
                                                           Offset applied_offset, int64_t now_ms) {
  if (auto s = CheckBrokerEpoch(image, node, broker_epoch); !s.ok()) return s;
  last_heartbeat_ms_[node] = now_ms;
  const BrokerInfo& broker = *image.Broker(node);
  HeartbeatResult result;
  result.fenced = broker.fenced;
  // A broker serves only once it knows the cluster at least as of its own registration.
  if (broker.fenced && applied_offset >= broker.registered_at) {
    result.records.push_back(FencingRecord(broker, false));
    result.fenced = false;
  }
  return result;
}

std::vector<v1::MetadataRecord> ControllerLogic::ExpireSessions(const MetadataImage& image,
                                                                int64_t now_ms) const {
  std::vector<v1::MetadataRecord> out;
  for (const auto& [id, broker] : image.brokers()) {
    if (!broker.fenced && !SessionAlive(id, now_ms)) out.push_back(FencingRecord(broker, true));
  }
  return out;
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::CreateTopic(
    const MetadataImage& image, const std::string& name, int32_t partitions,
    int32_t replication_factor, const TopicConfigs& configs) const {
  if (auto s = ValidateTopicName(name); !s.ok()) return s;
  if (partitions < 1 || partitions > limits_.max_partitions_per_topic) {
    return ApiError(v1::INVALID_PARTITIONS,
                    fmt::format("partitions must be 1 to {}, got {}",
                                limits_.max_partitions_per_topic, partitions));
  }
  if (image.TopicByName(name) != nullptr) {
    return ApiError(v1::TOPIC_ALREADY_EXISTS, fmt::format("topic '{}' already exists", name));
  }
  if (auto config = ApplyTopicConfigs(limits_.log_defaults, configs); !config.ok()) {
    return config.status();
  }
  auto placed = PlaceReplicas(image, PlaceableBrokers(image), partitions, replication_factor);
  if (!placed.ok()) return placed.status();
  TopicId id = TopicId::Random();
  while (image.Topic(id) != nullptr) id = TopicId::Random();
  std::vector<v1::MetadataRecord> out;
  v1::MetadataRecord topic = NewMetadataRecord();
  auto* t = topic.mutable_topic();
  t->set_name(name);
  t->set_topic_id(id.ToBytes());
  t->set_replication_factor(replication_factor);
  t->mutable_configs()->insert(configs.begin(), configs.end());
  out.push_back(std::move(topic));
  for (int32_t p = 0; p < partitions; ++p) {
    out.push_back(PartitionRecord(id, p, (*placed)[static_cast<size_t>(p)]));
  }
  return out;
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::DeleteTopic(
    const MetadataImage& image, const std::string& name) const {
  const TopicInfo* topic = image.TopicByName(name);
  if (topic == nullptr) return UnknownTopic(name);
  v1::MetadataRecord record = NewMetadataRecord();
  record.mutable_remove_topic()->set_topic_id(topic->id.ToBytes());
  return std::vector<v1::MetadataRecord>{std::move(record)};
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::CreatePartitions(
    const MetadataImage& image, const std::string& name, int32_t total) const {
  const TopicInfo* topic = image.TopicByName(name);
  if (topic == nullptr) return UnknownTopic(name);
  const auto current = static_cast<int32_t>(topic->partitions.size());
  if (total <= current || total > limits_.max_partitions_per_topic) {
    return ApiError(v1::INVALID_PARTITIONS,
                    fmt::format("topic '{}' has {} partitions; the new total must be more than "
                                "that and at most {}, got {}",
                                name, current, limits_.max_partitions_per_topic, total));
  }
  auto placed =
      PlaceReplicas(image, PlaceableBrokers(image), total - current, topic->replication_factor);
  if (!placed.ok()) return placed.status();
  std::vector<v1::MetadataRecord> out;
  for (int32_t p = current; p < total; ++p) {
    out.push_back(PartitionRecord(topic->id, p, (*placed)[static_cast<size_t>(p - current)]));
  }
  return out;
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::AlterConfigs(
    const MetadataImage& image, const std::string& name, const TopicConfigs& set,
    const std::vector<std::string>& remove) const {
  const TopicInfo* topic = image.TopicByName(name);
  if (topic == nullptr) return UnknownTopic(name);
  TopicConfigs configs = topic->configs;
  for (const auto& key : remove) configs.erase(key);
  for (const auto& [key, value] : set) configs[key] = value;
  if (auto config = ApplyTopicConfigs(limits_.log_defaults, configs); !config.ok()) {
    return config.status();
  }
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_topic_configs();
  r->set_topic_id(topic->id.ToBytes());
  r->mutable_configs()->insert(configs.begin(), configs.end());
  return std::vector<v1::MetadataRecord>{std::move(record)};
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::ReassignPartition(
    const MetadataImage& image, const std::string& name, int32_t partition,
    const std::vector<NodeId>& replicas, std::optional<int64_t> throttle_bytes_per_second) const {
  auto found = FindPartition(image, name, partition);
  if (!found.ok()) return found.status();
  const TopicInfo* topic = found->first;
  const PartitionAssignment& current = *found->second;
  if (replicas.empty() || replicas.size() > static_cast<size_t>(kReplicasMax)) {
    return ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                    fmt::format("a partition has 1 to {} replicas, not {}", kReplicasMax,
                                replicas.size()));
  }
  if (throttle_bytes_per_second && *throttle_bytes_per_second < 0) {
    return ApiError(v1::INVALID_REQUEST, fmt::format("throttle {} B/s: must be 0 (none) or more",
                                                     *throttle_bytes_per_second));
  }
  std::set<NodeId> seen;
  for (NodeId id : replicas) {
    if (!seen.insert(id).second) {
      return ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                      fmt::format("broker {} named twice: a partition has one replica per broker",
                                  id));
    }
    if (image.Broker(id) == nullptr) {
      return ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                      fmt::format("broker {} is not registered", id));
    }
    if (!Contains(current.replicas, id) && image.Decommissioning(id)) {
      return ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                      fmt::format("broker {} is being decommissioned", id));
    }
  }
  if (current.moving()) {
    if (current.target_replicas == replicas) return std::vector<v1::MetadataRecord>{};
    return ApiError(v1::REASSIGNMENT_IN_PROGRESS,
                    fmt::format("partition {}-{} is moving from [{}] to [{}]: cancel that first",
                                name, partition, fmt::join(current.replicas, ","),
                                fmt::join(current.target_replicas, ",")));
  }
  if (current.replicas == replicas) return std::vector<v1::MetadataRecord>{};
  PartitionAssignment next = current;
  if (std::set<NodeId>(current.replicas.begin(), current.replicas.end()) == seen) {
    // The same members: only the preferred leader changes.
    next.replicas = replicas;
    next.initial_replicas = current.FirstMembers();
    return std::vector<v1::MetadataRecord>{AssignmentRecord(topic->id, partition, next)};
  }
  for (NodeId id : replicas) {
    if (!Contains(current.replicas, id) && !IsLive(image, id)) {
      return ApiError(v1::NOT_ENOUGH_REPLICAS,
                      fmt::format("broker {} is not live: a new replica must be able to copy the "
                                  "partition",
                                  id));
    }
  }
  if (auto s = CheckLiveMajority(image, current.replicas, "the replicas"); !s.ok()) return s;
  if (auto s = CheckLiveMajority(image, replicas, "the target"); !s.ok()) return s;
  next.initial_replicas = current.FirstMembers();
  next.target_replicas = replicas;
  next.move_throttle_bytes_per_second =
      throttle_bytes_per_second.value_or(limits_.move_throttle_bytes_per_second);
  return std::vector<v1::MetadataRecord>{AssignmentRecord(topic->id, partition, next)};
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::CancelReassignment(
    const MetadataImage& image, const std::string& name, int32_t partition) const {
  auto found = FindPartition(image, name, partition);
  if (!found.ok()) return found.status();
  const TopicInfo* topic = found->first;
  const PartitionAssignment& current = *found->second;
  if (!current.moving()) {
    return ApiError(v1::NO_REASSIGNMENT_IN_PROGRESS,
                    fmt::format("partition {}-{} is not moving", name, partition));
  }
  return std::vector<v1::MetadataRecord>{
      AssignmentRecord(topic->id, partition, TurnedBack(current))};
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::CompleteReassignment(
    const MetadataImage& image, TopicId topic_id, int32_t partition,
    const std::vector<NodeId>& voters) const {
  const TopicInfo* topic = image.Topic(topic_id);
  if (topic == nullptr) {
    return ApiError(v1::UNKNOWN_TOPIC, fmt::format("no topic has id {}", topic_id));
  }
  if (partition < 0 || partition >= static_cast<int32_t>(topic->partitions.size())) {
    return ApiError(v1::UNKNOWN_PARTITION,
                    fmt::format("topic '{}' has no partition {}", topic->name, partition));
  }
  const PartitionAssignment& current = topic->partitions[static_cast<size_t>(partition)];
  if (!current.moving()) return std::vector<v1::MetadataRecord>{};
  if (std::set<NodeId>(voters.begin(), voters.end()) !=
      std::set<NodeId>(current.target_replicas.begin(), current.target_replicas.end())) {
    return ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                    fmt::format("partition {}-{} moves to [{}], not [{}]", topic->name, partition,
                                fmt::join(current.target_replicas, ","), fmt::join(voters, ",")));
  }
  PartitionAssignment next = current;
  next.replicas = current.target_replicas;
  next.leader = next.replicas.front();
  next.target_replicas.clear();
  next.move_throttle_bytes_per_second = 0;
  return std::vector<v1::MetadataRecord>{AssignmentRecord(topic->id, partition, next)};
}

absl::StatusOr<std::vector<v1::MetadataRecord>> ControllerLogic::Decommission(
    const MetadataImage& image, NodeId node, bool decommissioning) const {
  if (image.Broker(node) == nullptr) {
    return ApiError(v1::INVALID_REQUEST, fmt::format("broker {} is not registered", node));
  }
  std::vector<v1::MetadataRecord> out;
  if (image.Decommissioning(node) == decommissioning) return out;
  if (decommissioning) {
    size_t needed = 0;
    for (const auto& [id, topic] : image.topics()) {
      for (const PartitionAssignment& p : topic.partitions) {
        if (Contains(p.Hosts(), node)) needed = std::max(needed, p.Hosts().size());
      }
    }
    size_t others = 0;
    for (NodeId id : PlaceableBrokers(image)) others += id != node ? 1 : 0;
    if (needed > others) {
      return ApiError(v1::NOT_ENOUGH_REPLICAS,
                      fmt::format("broker {} holds replicas of partitions with {} replicas, but "
                                  "only {} other live brokers can take them",
                                  node, needed, others));
    }
  }
  v1::MetadataRecord record = NewMetadataRecord();
  record.mutable_broker_decommission()->set_node_id(node.value());
  record.mutable_broker_decommission()->set_decommissioning(decommissioning);
  out.push_back(std::move(record));
  if (decommissioning) return out;
  // Recommissioning: the moves still draining the broker turn back.
  for (const auto& [id, topic] : image.topics()) {
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionAssignment& current = topic.partitions[p];
      if (!current.moving() || !Contains(current.replicas, node) ||
          Contains(current.target_replicas, node)) {
        continue;
      }
      out.push_back(AssignmentRecord(id, static_cast<int32_t>(p), TurnedBack(current)));
    }
  }
  return out;
}

std::vector<v1::MetadataRecord> ControllerLogic::PlanDrains(const MetadataImage& image) const {
  std::vector<v1::MetadataRecord> out;
  if (image.decommissioning().empty()) return out;
  int32_t moving = 0;
  std::map<NodeId, int64_t> load;  // replicas each placeable broker holds or will hold
  for (NodeId id : PlaceableBrokers(image)) load[id] = 0;
  for (const auto& [id, topic] : image.topics()) {
    for (const PartitionAssignment& p : topic.partitions) {
      moving += p.moving() ? 1 : 0;
      for (NodeId host : p.Hosts()) {
        if (auto it = load.find(host); it != load.end()) ++it->second;
      }
    }
  }
  for (const auto& [id, topic] : image.topics()) {
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      if (moving >= limits_.drain_moves_max) return out;
      const PartitionAssignment& current = topic.partitions[p];
      if (current.moving()) continue;
      std::vector<NodeId> target = current.replicas;
      bool changed = false;
      for (NodeId& replica : target) {
        if (!image.Decommissioning(replica)) continue;
        NodeId best;
        for (const auto& [candidate, count] : load) {
          if (Contains(target, candidate)) continue;
          if (best == kNoNode || count < load[best]) best = candidate;
        }
        if (best == kNoNode) break;
        replica = best;
        ++load[best];
        changed = true;
      }
      if (!changed) continue;
      auto records = ReassignPartition(image, topic.name, static_cast<int32_t>(p), target,
                                       std::nullopt);
      // A partition that cannot move now (a replica down) is tried again on a later pass.
      if (!records.ok() || records->empty()) continue;
      for (auto& record : *records) out.push_back(std::move(record));
      ++moving;
    }
  }
  return out;
}

absl::StatusOr<ProducerIdBlock> ControllerLogic::AllocateProducerIds(const MetadataImage& image,
                                                                     NodeId node,
                                                                     int64_t broker_epoch) const {
  if (auto s = CheckBrokerEpoch(image, node, broker_epoch); !s.ok()) return s;
  ProducerIdBlock block;
  block.first = image.next_producer_id();
  block.count = limits_.producer_id_block_size;
  v1::MetadataRecord record = NewMetadataRecord();
  auto* r = record.mutable_producer_ids();
  r->set_node_id(node.value());
  r->set_broker_epoch(broker_epoch);
  r->set_next_producer_id(block.first + block.count);
  block.records.push_back(std::move(record));
  return block;
}

}  // namespace rill::cluster
