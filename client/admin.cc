#include "rill/admin.h"

#include <chrono>
#include <thread>

#include "api/error.h"
#include "base/fmt_absl.h"
#include "client/cluster.h"

namespace rill {

using client::FromGrpc;

Admin::Admin(std::unique_ptr<client::Cluster> cluster) : cluster_(std::move(cluster)) {}
Admin::~Admin() = default;

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(const ClientOptions& options) {
  auto cluster = client::Cluster::Create(options);
  if (!cluster.ok()) return cluster.status();
  return std::unique_ptr<Admin>(new Admin(std::move(*cluster)));
}

// Runs one admin RPC; returns the transport error or OK.
#define RILL_ADMIN_CALL(method, request, response)                      \
  do {                                                                  \
    std::string address;                                                \
    auto* stub = cluster_->AdminStub(&address);                         \
    auto context = cluster_->NewContext();                              \
    grpc::Status rpc = stub->method(context.get(), request, &response); \
    if (!rpc.ok()) return FromGrpc(rpc, address);                       \
  } while (0)

absl::Status Admin::CreateTopic(const NewTopic& topic, bool validate_only) {
  v1::CreateTopicsRequest request;
  auto* t = request.add_topics();
  t->set_name(topic.name);
  t->set_partitions(topic.partitions);
  t->set_replication_factor(topic.replication_factor);
  t->mutable_configs()->insert(topic.configs.begin(), topic.configs.end());
  request.set_validate_only(validate_only);
  v1::CreateTopicsResponse response;
  RILL_ADMIN_CALL(CreateTopics, request, response);
  if (response.topics_size() != 1) return absl::InternalError("malformed CreateTopics response");
  return api::FromError(response.topics(0).error());
}

absl::Status Admin::DeleteTopic(const std::string& name) {
  v1::DeleteTopicsRequest request;
  request.add_names(name);
  v1::DeleteTopicsResponse response;
  RILL_ADMIN_CALL(DeleteTopics, request, response);
  if (response.topics_size() != 1) return absl::InternalError("malformed DeleteTopics response");
  return api::FromError(response.topics(0).error());
}

absl::StatusOr<std::vector<TopicListing>> Admin::ListTopics(bool include_internal) {
  v1::ListTopicsRequest request;
  request.set_include_internal(include_internal);
  v1::ListTopicsResponse response;
  RILL_ADMIN_CALL(ListTopics, request, response);
  std::vector<TopicListing> out;
  for (const auto& t : response.topics()) {
    out.push_back({t.name(), t.partitions(), t.replication_factor(), t.internal()});
  }
  return out;
}

absl::StatusOr<TopicDescription> Admin::DescribeTopic(const std::string& name) {
  v1::DescribeTopicsRequest request;
  request.add_names(name);
  v1::DescribeTopicsResponse response;
  RILL_ADMIN_CALL(DescribeTopics, request, response);
  if (response.topics_size() != 1) return absl::InternalError("malformed DescribeTopics response");
  const auto& t = response.topics(0);
  if (auto s = api::FromError(t.error()); !s.ok()) return s;
  TopicDescription out{
      t.name(), t.replication_factor(), {}, {t.configs().begin(), t.configs().end()}, t.topic_id()};
  // Only a partition's leader knows its replicas in sync, and only brokers hosting it what it
  // holds: each partition is described by its leader, when that one answers.
  std::map<int32_t, v1::DescribeTopicsResponse> from_leaders;
  const bool led = std::any_of(t.partitions().begin(), t.partitions().end(),
                               [](const auto& p) { return p.leader() >= 0; });
  // The brokers' addresses come with the metadata.
  if (led) (void)cluster_->Topic(name, /*refresh=*/true);
  for (const auto& p : t.partitions()) {
    if (p.leader() < 0 || from_leaders.contains(p.leader())) continue;
    std::string address;
    auto* stub = cluster_->AdminStubOf(p.leader(), &address);
    auto context = cluster_->NewContext();
    v1::DescribeTopicsResponse answer;
    if (stub->DescribeTopics(context.get(), request, &answer).ok() && answer.topics_size() == 1 &&
        answer.topics(0).topic_id() == t.topic_id()) {
      from_leaders[p.leader()] = std::move(answer);
    }
  }
  for (const auto& asked : t.partitions()) {
    const v1::PartitionDescription* found = &asked;
    if (auto it = from_leaders.find(asked.leader()); it != from_leaders.end()) {
      for (const auto& q : it->second.topics(0).partitions()) {
        if (q.partition() == asked.partition() && q.hosted() && q.leader() == asked.leader()) {
          found = &q;
        }
      }
    }
    const auto& p = *found;
    out.partitions.push_back({p.partition(),
                              p.leader(),
                              {p.replicas().begin(), p.replicas().end()},
                              {p.in_sync_replicas().begin(), p.in_sync_replicas().end()},
                              p.log_start_offset(),
                              p.high_watermark(),
                              p.size_bytes(),
                              p.segments(),
                              api::FromError(p.error())});
  }
  return out;
}

absl::Status Admin::CreatePartitions(const std::string& topic, int32_t total) {
  v1::CreatePartitionsRequest request;
  request.set_topic(topic);
  request.set_total(total);
  v1::CreatePartitionsResponse response;
  RILL_ADMIN_CALL(CreatePartitions, request, response);
  return api::FromError(response.error());
}

absl::StatusOr<std::vector<ConfigEntry>> Admin::DescribeConfigs(const std::string& topic) {
  v1::DescribeConfigsRequest request;
  request.set_topic(topic);
  v1::DescribeConfigsResponse response;
  RILL_ADMIN_CALL(DescribeConfigs, request, response);
  if (auto s = api::FromError(response.error()); !s.ok()) return s;
  std::vector<ConfigEntry> out;
  for (const auto& c : response.configs()) {
    const ConfigSource source = c.source() == v1::TOPIC_CONFIG    ? ConfigSource::kTopic
                                : c.source() == v1::BROKER_CONFIG ? ConfigSource::kBroker
                                                                  : ConfigSource::kDefault;
    out.push_back({c.name(), c.value(), c.is_default(), source});
  }
  return out;
}

absl::StatusOr<std::vector<DeletedRecords>> Admin::DeleteRecords(
    const std::string& topic, const std::map<int32_t, int64_t>& before_offsets) {
  v1::DeleteRecordsRequest request;
  request.set_topic(topic);
  for (const auto& [partition, offset] : before_offsets) {
    auto* p = request.add_partitions();
    p->set_partition(partition);
    p->set_offset(offset);
  }
  v1::DeleteRecordsResponse response;
  RILL_ADMIN_CALL(DeleteRecords, request, response);
  if (auto s = api::FromError(response.error()); !s.ok()) return s;
  std::vector<DeletedRecords> out;
  for (const auto& p : response.partitions()) {
    out.push_back({p.partition(), p.low_watermark(), api::FromError(p.error())});
  }
  return out;
}

absl::Status Admin::AlterConfigs(const std::string& topic,
                                 const std::map<std::string, std::string>& set,
                                 const std::vector<std::string>& remove) {
  v1::AlterConfigsRequest request;
  request.set_topic(topic);
  request.mutable_set()->insert(set.begin(), set.end());
  for (const auto& name : remove) request.add_remove(name);
  v1::AlterConfigsResponse response;
  RILL_ADMIN_CALL(AlterConfigs, request, response);
  return api::FromError(response.error());
}

absl::StatusOr<std::map<int32_t, int64_t>> Admin::ListOffsets(const std::string& topic,
                                                              OffsetSpec spec) {
  auto meta = cluster_->Topic(topic, /*refresh=*/true);
  if (!meta.ok()) return meta.status();
  std::vector<TopicPartition> partitions;
  for (size_t p = 0; p < meta->leaders.size(); ++p) {
    partitions.push_back({topic, static_cast<int32_t>(p)});
  }
  auto offsets = cluster_->ListOffsets(partitions, spec.timestamp);
  if (!offsets.ok()) return offsets.status();
  std::map<int32_t, int64_t> out;
  for (const auto& [tp, offset] : *offsets) out[tp.partition] = offset;
  return out;
}

absl::StatusOr<ClusterDescription> Admin::DescribeCluster() {
  v1::DescribeClusterRequest request;
  v1::DescribeClusterResponse described;
  RILL_ADMIN_CALL(DescribeCluster, request, described);
  ClusterDescription out;
  out.cluster_id = described.cluster_id();
  out.controller_id = described.controller_id();
  out.voters.assign(described.voters().begin(), described.voters().end());
  out.answering_node = described.node_id();
  out.metadata_offset = described.metadata_offset();
  out.snapshot_offset = described.snapshot_offset();
  out.answering_leads = described.leading();
  for (const auto& u : described.under_replicated()) {
    out.under_replicated.push_back(
        {u.topic(), u.partition(), {u.replicas().begin(), u.replicas().end()},
         {u.in_sync_replicas().begin(), u.in_sync_replicas().end()}});
  }
  for (const auto& b : described.brokers()) {
    BrokerNode node;
    node.node_id = b.node_id();
    node.fenced = b.fenced();
    node.broker_epoch = b.broker_epoch();
    node.replicas = b.replicas();
    node.leaders = b.leaders();
    node.voter = b.voter();
    node.decommissioning = b.decommissioning();
    // The broker lists the listener this client came in through first.
    for (const auto& l : b.listeners()) {
      if (l.name() != "broker" && node.host.empty()) {
        node.host = l.host();
        node.port = l.port();
      } else if (l.name() == "broker") {
        node.inter_broker_address = l.host() + ":" + std::to_string(l.port());
      }
    }
    out.brokers.push_back(std::move(node));
  }
  auto response = cluster_->FetchMetadata({});
  if (!response.ok()) return response.status();
  for (const auto& t : response->topics()) {
    for (const auto& p : t.partitions()) {
      if (p.error().code() != v1::NONE) {
        out.offline_partitions.push_back({t.name(), p.partition(), api::FromError(p.error())});
      }
    }
  }
  return out;
}

// Once more at the coordinator a NOT_COORDINATOR answer names.
#define RILL_GROUPS_CALL(method, group, request, response)                            \
  for (int attempt = 0;; ++attempt) {                                                 \
    std::string address;                                                              \
    auto* stub = cluster_->GroupsStub(group, &address);                               \
    auto context = cluster_->NewContext();                                            \
    grpc::Status rpc = stub->method(context.get(), request, &response);               \
    if (!rpc.ok()) return FromGrpc(rpc, address);                                     \
    absl::Status s = api::FromError(response.error());                                \
    if (s.ok()) break;                                                                \
    if (attempt > 0 || !cluster_->NoteCoordinator(group, s)) return s;                \
  }

namespace {
std::vector<TopicPartition> Flatten(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& sets) {
  std::vector<TopicPartition> out;
  for (const auto& s : sets) {
    for (int32_t p : s.partitions()) out.push_back({s.topic(), p});
  }
  return out;
}
}  // namespace

absl::StatusOr<std::vector<GroupListing>> Admin::ListGroups() {
  // Each broker coordinates some of the groups: every live broker is asked.
  auto metadata = cluster_->FetchMetadata({});
  if (!metadata.ok()) return metadata.status();
  std::map<std::string, GroupListing> groups;
  for (const auto& broker : metadata->brokers()) {
    const std::string address = broker.host() + ":" + std::to_string(broker.port());
    v1::ListGroupsRequest request;
    v1::ListGroupsResponse response;
    auto context = cluster_->NewContext();
    grpc::Status rpc = cluster_->GroupsStubAt(address)->ListGroups(context.get(), request, &response);
    if (!rpc.ok()) return FromGrpc(rpc, address);
    if (auto s = api::FromError(response.error()); !s.ok()) return s;
    for (const auto& g : response.groups()) {
      groups[g.group_id()] = GroupListing{g.group_id(), g.state(), g.members(), g.type()};
    }
  }
  std::vector<GroupListing> out;
  for (auto& [id, listing] : groups) out.push_back(std::move(listing));
  return out;
}

absl::StatusOr<GroupDescription> Admin::DescribeGroup(const std::string& group_id) {
  v1::DescribeGroupRequest request;
  request.set_group_id(group_id);
  v1::DescribeGroupResponse response;
  RILL_GROUPS_CALL(DescribeGroup, group_id, request, response);
  GroupDescription out;
  out.group_id = response.group_id();
  out.state = response.state();
  out.type = response.type();
  out.group_epoch = response.group_epoch();
  out.assignor = response.assignor();
  out.total_lag = response.total_lag();
  for (const auto& m : response.members()) {
    out.members.push_back({m.member_id(), m.instance_id(), m.client_id(), m.member_epoch(),
                           Flatten(m.assignment()), Flatten(m.pending()), m.client_host()});
  }
  for (const auto& p : response.partitions()) {
    out.partitions.push_back({{p.topic(), p.partition()},
                              p.committed_offset(),
                              p.log_end_offset(),
                              p.lag(),
                              p.member_id()});
  }
  return out;
}

absl::Status Admin::DeleteGroup(const std::string& group_id) {
  v1::DeleteGroupRequest request;
  request.set_group_id(group_id);
  v1::DeleteGroupResponse response;
  RILL_GROUPS_CALL(DeleteGroup, group_id, request, response);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<GroupOffsetChange>> Admin::ResetGroupOffsets(
    const std::string& group_id, const std::string& topic, const std::vector<int32_t>& partitions,
    GroupOffsetTarget target, bool execute) {
  v1::ResetOffsetsRequest request;
  request.set_group_id(group_id);
  request.set_topic(topic);
  for (int32_t p : partitions) request.add_partitions(p);
  switch (target.kind) {
    case GroupOffsetTarget::kEarliest:
      request.set_to_earliest(true);
      break;
    case GroupOffsetTarget::kLatest:
      request.set_to_latest(true);
      break;
    case GroupOffsetTarget::kOffset:
      request.set_to_offset(target.value);
      break;
    case GroupOffsetTarget::kTimestamp:
      request.set_to_timestamp_ms(target.value);
      break;
    case GroupOffsetTarget::kShiftBy:
      request.set_shift_by(target.value);
      break;
  }
  request.set_execute(execute);
  v1::ResetOffsetsResponse response;
  RILL_GROUPS_CALL(ResetOffsets, group_id, request, response);
  std::vector<GroupOffsetChange> out;
  for (const auto& p : response.partitions()) {
    out.push_back({p.partition(), p.previous_offset(), p.new_offset()});
  }
  return out;
}

absl::Status Admin::TransferLeadership(const std::string& topic, int32_t partition, int32_t to,
                                       int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto leader_now = [&]() -> absl::StatusOr<int32_t> {
    auto meta = cluster_->Topic(topic, /*refresh=*/true);
    if (!meta.ok()) return meta.status();
    if (partition < 0 || partition >= static_cast<int32_t>(meta->leaders.size())) {
      return api::ApiError(v1::UNKNOWN_PARTITION,
                           fmt::format("topic '{}' has no partition {}", topic, partition));
    }
    return meta->leaders[static_cast<size_t>(partition)];
  };
  auto leader = leader_now();
  if (!leader.ok()) return leader.status();
  // A transfer the leader abandoned (an election timeout passed) is asked for again.
  constexpr auto kAskAgain = std::chrono::seconds(3);
  bool asked = false;
  auto asked_at = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (*leader == to) return absl::OkStatus();
    if (!asked || std::chrono::steady_clock::now() - asked_at > kAskAgain) {
      v1::TransferLeadershipRequest request;
      request.set_topic(topic);
      request.set_partition(partition);
      request.set_to(to);
      v1::TransferLeadershipResponse response;
      std::string address;
      auto* stub = cluster_->AdminStubOf(*leader, &address);
      auto context = cluster_->NewContext();
      grpc::Status rpc = stub->TransferLeadership(context.get(), request, &response);
      absl::Status status = rpc.ok() ? api::FromError(response.error()) : FromGrpc(rpc, address);
      if (status.ok()) {
        asked = true;
        asked_at = std::chrono::steady_clock::now();
      } else if (!api::IsRetriable(status)) {
        return status;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto next = leader_now();
    if (next.ok()) {
      // A new leader that is not `to` (the transfer was abandoned): ask it again.
      if (*next != *leader) asked = false;
      leader = next;
    }
  }
  return api::ApiError(v1::REQUEST_TIMED_OUT,
                       fmt::format("broker {} did not take over {}-{} within {} ms", to, topic,
                                   partition, timeout_ms));
}

absl::Status Admin::ReassignPartition(const std::string& topic, int32_t partition,
                                      const std::vector<int32_t>& replicas,
                                      std::optional<int64_t> throttle_bytes_per_second) {
  v1::ReassignPartitionRequest request;
  request.set_topic(topic);
  request.set_partition(partition);
  for (int32_t replica : replicas) request.add_replicas(replica);
  if (throttle_bytes_per_second) request.set_throttle_bytes_per_second(*throttle_bytes_per_second);
  v1::ReassignPartitionResponse response;
  RILL_ADMIN_CALL(ReassignPartition, request, response);
  return api::FromError(response.error());
}

absl::Status Admin::CancelReassignment(const std::string& topic, int32_t partition) {
  v1::ReassignPartitionRequest request;
  request.set_topic(topic);
  request.set_partition(partition);
  request.set_cancel(true);
  v1::ReassignPartitionResponse response;
  RILL_ADMIN_CALL(ReassignPartition, request, response);
  return api::FromError(response.error());
}

namespace {

PartitionReassignment ToReassignment(const v1::PartitionReassignment& r) {
  PartitionReassignment out;
  out.topic = r.topic();
  out.partition = r.partition();
  out.replicas.assign(r.replicas().begin(), r.replicas().end());
  out.target_replicas.assign(r.target_replicas().begin(), r.target_replicas().end());
  out.throttle_bytes_per_second = r.throttle_bytes_per_second();
  if (r.from_leader()) {
    out.leader = r.leader();
    out.leader_end_offset = r.leader_end_offset();
    for (const auto& m : r.members()) {
      out.members.push_back({m.node_id(), m.voter(), m.learner(), m.matched_offset()});
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<PartitionReassignment>> Admin::ListReassignments(
    const std::string& topic) {
  v1::ListReassignmentsRequest request;
  request.set_topic(topic);
  v1::ListReassignmentsResponse response;
  RILL_ADMIN_CALL(ListReassignments, request, response);
  if (auto s = api::FromError(response.error()); !s.ok()) return s;
  std::vector<PartitionReassignment> out;
  for (const auto& r : response.reassignments()) {
    out.push_back(ToReassignment(r));
    if (r.from_leader()) continue;
    // Only the partition's leader knows how far each replica is: ask it.
    auto meta = cluster_->Topic(r.topic(), /*refresh=*/false);
    if (!meta.ok() || r.partition() >= static_cast<int32_t>(meta->leaders.size())) continue;
    const int32_t leader = meta->leaders[static_cast<size_t>(r.partition())];
    if (leader < 0) continue;
    v1::ListReassignmentsRequest ask;
    ask.set_topic(r.topic());
    ask.set_partition(r.partition());
    v1::ListReassignmentsResponse answer;
    std::string address;
    auto* stub = cluster_->AdminStubOf(leader, &address);
    auto context = cluster_->NewContext();
    if (!stub->ListReassignments(context.get(), ask, &answer).ok()) continue;
    for (const auto& detail : answer.reassignments()) {
      if (detail.from_leader()) out.back() = ToReassignment(detail);
    }
  }
  return out;
}

absl::Status Admin::DecommissionBroker(int32_t node_id) {
  v1::DecommissionBrokerRequest request;
  request.set_node_id(node_id);
  v1::DecommissionBrokerResponse response;
  RILL_ADMIN_CALL(DecommissionBroker, request, response);
  return api::FromError(response.error());
}

absl::Status Admin::RecommissionBroker(int32_t node_id) {
  v1::DecommissionBrokerRequest request;
  request.set_node_id(node_id);
  request.set_recommission(true);
  v1::DecommissionBrokerResponse response;
  RILL_ADMIN_CALL(DecommissionBroker, request, response);
  return api::FromError(response.error());
}

#undef RILL_ADMIN_CALL

}  // namespace rill
