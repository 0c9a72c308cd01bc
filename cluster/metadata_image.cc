#include "cluster/metadata_image.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::cluster {
namespace {

// More replicas than this in one partition cannot come from a working controller.

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(fmt::format("metadata record does not fit the image: {}", what));
}

}  // namespace

v1::MetadataRecord NewMetadataRecord() {
  v1::MetadataRecord record;
  record.set_version(kMetadataRecordVersion);
  return record;
}

absl::Status MetadataImage::Apply(const v1::MetadataRecord& record, Offset offset) {
  if (record.version() != kMetadataRecordVersion) {
    return Corrupt(
        fmt::format("version {} (this broker knows {})", record.version(), kMetadataRecordVersion));
  }
  if (offset < offset_) {
    return Corrupt(fmt::format("offset {} after offset {}", offset, offset_));
  }
  absl::Status status;
  switch (record.record_case()) {
    case v1::MetadataRecord::kRegisterBroker:
      status = ApplyRegisterBroker(record.register_broker(), offset);
      break;
    case v1::MetadataRecord::kBrokerFencing:
      status = ApplyBrokerFencing(record.broker_fencing());
      break;
    case v1::MetadataRecord::kUnregisterBroker:
      status = ApplyUnregisterBroker(record.unregister_broker());
      break;
    case v1::MetadataRecord::kTopic:
      status = ApplyTopic(record.topic());
      break;
    case v1::MetadataRecord::kPartition:
      status = ApplyPartition(record.partition());
      break;
    case v1::MetadataRecord::kTopicConfigs:
      status = ApplyTopicConfigs(record.topic_configs());
      break;
    case v1::MetadataRecord::kRemoveTopic:
      status = ApplyRemoveTopic(record.remove_topic());
      break;
    case v1::MetadataRecord::kProducerIds:
      status = ApplyProducerIds(record.producer_ids());
      break;
    case v1::MetadataRecord::kBrokerDecommission:
      status = ApplyBrokerDecommission(record.broker_decommission());
      break;
    default:
      status = Corrupt(fmt::format("unknown kind {}", static_cast<int>(record.record_case())));
  }
  if (status.ok()) offset_ = offset;
  return status;
}

absl::Status MetadataImage::ApplyRegisterBroker(const v1::MetadataRecord::RegisterBroker& r,
                                                Offset offset) {
  if (r.node_id() <= 0) return Corrupt(fmt::format("broker id {}", r.node_id()));
  if (r.broker_epoch() <= 0) return Corrupt(fmt::format("broker epoch {}", r.broker_epoch()));
  BrokerInfo info;
  info.id = NodeId(r.node_id());
  info.incarnation_id = r.incarnation_id();
  info.epoch = r.broker_epoch();
  for (const auto& e : r.endpoints()) info.endpoints.push_back({e.name(), e.host(), e.port()});
  info.rack = r.rack();
  info.fenced = true;
  info.registered_at = offset;
  brokers_[info.id] = std::move(info);
  max_broker_epoch_ = std::max(max_broker_epoch_, r.broker_epoch());
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyBrokerFencing(const v1::MetadataRecord::BrokerFencing& r) {
  auto it = brokers_.find(NodeId(r.node_id()));
  // A change decided for a registration that has since been replaced no longer applies; every
  // broker skips it alike.
  if (it == brokers_.end() || it->second.epoch != r.broker_epoch()) return absl::OkStatus();
  it->second.fenced = r.fenced();
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyUnregisterBroker(const v1::MetadataRecord::UnregisterBroker& r) {
  auto it = brokers_.find(NodeId(r.node_id()));
  if (it != brokers_.end() && it->second.epoch == r.broker_epoch()) brokers_.erase(it);
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyTopic(const v1::MetadataRecord::Topic& r) {
  auto id = TopicId::FromBytes(r.topic_id());
  if (!id || id->is_zero()) return Corrupt("topic without an id");
  if (r.name().empty()) return Corrupt("topic without a name");
  if (topics_.contains(*id)) return Corrupt(fmt::format("topic id {} exists", *id));
  if (topic_ids_by_name_.contains(r.name())) {
    return Corrupt(fmt::format("topic name '{}' exists", r.name()));
  }
  TopicInfo topic;
  topic.name = r.name();
  topic.id = *id;
  topic.replication_factor = r.replication_factor();
  topic.configs = TopicConfigs(r.configs().begin(), r.configs().end());
  topic_ids_by_name_.emplace(topic.name, *id);
  topics_.emplace(*id, std::move(topic));
  return absl::OkStatus();
}

TopicInfo* MetadataImage::MutableTopic(const std::string& id_bytes) {
  auto id = TopicId::FromBytes(id_bytes);
  if (!id) return nullptr;
  auto it = topics_.find(*id);
  return it == topics_.end() ? nullptr : &it->second;
}

absl::Status MetadataImage::ApplyPartition(const v1::MetadataRecord::Partition& r) {
  TopicInfo* topic = MutableTopic(r.topic_id());
  if (topic == nullptr) return Corrupt("partition of an unknown topic");
  const auto count = static_cast<int32_t>(topic->partitions.size());
  // Partitions are added in order, so a record can grow the list by one at most.
  if (r.partition() < 0 || r.partition() > count) {
    return Corrupt(
        fmt::format("partition {} of '{}', which has {}", r.partition(), topic->name, count));
  }
  if (r.replicas_size() == 0 || r.replicas_size() > kReplicasMax) {
    return Corrupt(fmt::format("partition {}-{} with {} replicas", topic->name, r.partition(),
                               r.replicas_size()));
  }
  if (r.target_replicas_size() > kReplicasMax || r.initial_replicas_size() > kReplicasMax ||
      r.move_throttle_bytes_per_second() < 0) {
    return Corrupt(fmt::format("partition {}-{} with a move to {} replicas from {} at {} B/s",
                               topic->name, r.partition(), r.target_replicas_size(),
                               r.initial_replicas_size(), r.move_throttle_bytes_per_second()));
  }
  PartitionAssignment assignment;
  for (int32_t replica : r.replicas()) assignment.replicas.push_back(NodeId(replica));
  assignment.leader = NodeId(r.leader());
  assignment.leader_epoch = r.leader_epoch();
  for (int32_t replica : r.target_replicas()) assignment.target_replicas.push_back(NodeId(replica));
  assignment.move_throttle_bytes_per_second = r.move_throttle_bytes_per_second();
  for (int32_t replica : r.initial_replicas()) {
    assignment.initial_replicas.push_back(NodeId(replica));
  }
  if (r.partition() == count) {
    topic->partitions.push_back(std::move(assignment));
  } else {
    topic->partitions[static_cast<size_t>(r.partition())] = std::move(assignment);
  }
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyTopicConfigs(const v1::MetadataRecord::TopicConfigs& r) {
  TopicInfo* topic = MutableTopic(r.topic_id());
  if (topic == nullptr) return Corrupt("configs of an unknown topic");
  topic->configs = TopicConfigs(r.configs().begin(), r.configs().end());
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRemoveTopic(const v1::MetadataRecord::RemoveTopic& r) {
  TopicInfo* topic = MutableTopic(r.topic_id());
  if (topic == nullptr) return Corrupt("removal of an unknown topic");
  topic_ids_by_name_.erase(topic->name);
  topics_.erase(topic->id);
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyProducerIds(const v1::MetadataRecord::ProducerIds& r) {
  if (r.next_producer_id() < next_producer_id_) {
    return Corrupt(
        fmt::format("producer ids go back from {} to {}", next_producer_id_, r.next_producer_id()));
  }
  next_producer_id_ = r.next_producer_id();
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyBrokerDecommission(
    const v1::MetadataRecord::BrokerDecommission& r) {
  if (r.node_id() <= 0) return Corrupt(fmt::format("decommission of broker {}", r.node_id()));
  if (r.decommissioning()) {
    decommissioning_.insert(NodeId(r.node_id()));
  } else {
    decommissioning_.erase(NodeId(r.node_id()));
  }
  return absl::OkStatus();
}

std::vector<NodeId> PartitionAssignment::Hosts() const {
  std::vector<NodeId> out = replicas;
  for (NodeId node : target_replicas) {
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  }
  return out;
}

void FillPartitionRecord(const PartitionAssignment& assignment,
                         v1::MetadataRecord::Partition* r) {
  for (NodeId replica : assignment.replicas) r->add_replicas(replica.value());
  r->set_leader(assignment.leader.value());
  r->set_leader_epoch(assignment.leader_epoch);
  for (NodeId replica : assignment.target_replicas) r->add_target_replicas(replica.value());
  r->set_move_throttle_bytes_per_second(assignment.move_throttle_bytes_per_second);
  for (NodeId replica : assignment.initial_replicas) r->add_initial_replicas(replica.value());
}

std::vector<v1::MetadataRecord> MetadataImage::ToRecords() const {
  std::vector<v1::MetadataRecord> out;
  for (const auto& [id, broker] : brokers_) {
    v1::MetadataRecord record = NewMetadataRecord();
    auto* r = record.mutable_register_broker();
    r->set_node_id(id.value());
    r->set_incarnation_id(broker.incarnation_id);
    r->set_broker_epoch(broker.epoch);
    r->set_rack(broker.rack);
    for (const Endpoint& e : broker.endpoints) {
      auto* endpoint = r->add_endpoints();
      endpoint->set_name(e.name);
      endpoint->set_host(e.host);
      endpoint->set_port(e.port);
    }
    out.push_back(std::move(record));
    if (!broker.fenced) {
      v1::MetadataRecord unfence = NewMetadataRecord();
      unfence.mutable_broker_fencing()->set_node_id(id.value());
      unfence.mutable_broker_fencing()->set_broker_epoch(broker.epoch);
      unfence.mutable_broker_fencing()->set_fenced(false);
      out.push_back(std::move(unfence));
    }
  }
  for (const auto& [id, topic] : topics_) {
    v1::MetadataRecord record = NewMetadataRecord();
    auto* t = record.mutable_topic();
    t->set_name(topic.name);
    t->set_topic_id(id.ToBytes());
    t->set_replication_factor(topic.replication_factor);
    t->mutable_configs()->insert(topic.configs.begin(), topic.configs.end());
    out.push_back(std::move(record));
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      v1::MetadataRecord partition = NewMetadataRecord();
      auto* r = partition.mutable_partition();
      r->set_topic_id(id.ToBytes());
      r->set_partition(static_cast<int32_t>(p));
      FillPartitionRecord(topic.partitions[p], r);
      out.push_back(std::move(partition));
    }
  }
  for (NodeId node : decommissioning_) {
    v1::MetadataRecord record = NewMetadataRecord();
    record.mutable_broker_decommission()->set_node_id(node.value());
    record.mutable_broker_decommission()->set_decommissioning(true);
    out.push_back(std::move(record));
  }
  if (next_producer_id_ > 0) {
    v1::MetadataRecord record = NewMetadataRecord();
    record.mutable_producer_ids()->set_next_producer_id(next_producer_id_);
    out.push_back(std::move(record));
  }
  return out;
}

const BrokerInfo* MetadataImage::Broker(NodeId id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

std::vector<NodeId> MetadataImage::LiveBrokers() const {
  std::vector<NodeId> out;
  for (const auto& [id, broker] : brokers_) {
    if (!broker.fenced) out.push_back(id);
  }
  return out;
}

const TopicInfo* MetadataImage::Topic(TopicId id) const {
  auto it = topics_.find(id);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicInfo* MetadataImage::TopicByName(std::string_view name) const {
  auto it = topic_ids_by_name_.find(name);
  return it == topic_ids_by_name_.end() ? nullptr : Topic(it->second);
}

}  // namespace rill::cluster
