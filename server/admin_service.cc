#include "server/admin_service.h"

#include "api/error.h"
#include "base/fmt_absl.h"
#include "cluster/topic_names.h"

namespace rill::server {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;
using cluster::ConfigSource;
using cluster::DescribeTopicConfigs;
using cluster::IsInternalTopic;
using cluster::RejectInternalTopic;
using cluster::TopicConfigs;

void AdminService::Register(RpcDispatcher* dispatcher) {
  constexpr std::string_view kService = "rill.v1.Admin";
  dispatcher->Add<v1::CreateTopicsRequest, v1::CreateTopicsResponse>(
      kService, "CreateTopics", [this](const auto& request, auto* response, Reply reply) {
        CreateTopics(request, response, std::move(reply));
      });
  dispatcher->Add<v1::DeleteTopicsRequest, v1::DeleteTopicsResponse>(
      kService, "DeleteTopics", [this](const auto& request, auto* response, Reply reply) {
        DeleteTopics(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::ListTopicsRequest, v1::ListTopicsResponse>(
      kService, "ListTopics",
      [this](const auto& request, auto* response) { ListTopics(request, response); });
  dispatcher->AddSync<v1::DescribeTopicsRequest, v1::DescribeTopicsResponse>(
      kService, "DescribeTopics",
      [this](const auto& request, auto* response) { DescribeTopics(request, response); });
  dispatcher->Add<v1::CreatePartitionsRequest, v1::CreatePartitionsResponse>(
      kService, "CreatePartitions", [this](const auto& request, auto* response, Reply reply) {
        CreatePartitions(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::DescribeConfigsRequest, v1::DescribeConfigsResponse>(
      kService, "DescribeConfigs",
      [this](const auto& request, auto* response) { DescribeConfigs(request, response); });
  dispatcher->Add<v1::AlterConfigsRequest, v1::AlterConfigsResponse>(
      kService, "AlterConfigs", [this](const auto& request, auto* response, Reply reply) {
        AlterConfigs(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::TransferLeadershipRequest, v1::TransferLeadershipResponse>(
      kService, "TransferLeadership",
      [this](const auto& request, auto* response) { TransferLeadership(request, response); });
  dispatcher->Add<v1::ReassignPartitionRequest, v1::ReassignPartitionResponse>(
      kService, "ReassignPartition", [this](const auto& request, auto* response, Reply reply) {
        ReassignPartition(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::ListReassignmentsRequest, v1::ListReassignmentsResponse>(
      kService, "ListReassignments",
      [this](const auto& request, auto* response) { ListReassignments(request, response); });
  dispatcher->Add<v1::DecommissionBrokerRequest, v1::DecommissionBrokerResponse>(
      kService, "DecommissionBroker", [this](const auto& request, auto* response, Reply reply) {
        DecommissionBroker(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::DeleteRecordsRequest, v1::DeleteRecordsResponse>(
      kService, "DeleteRecords",
      [this](const auto& request, auto* response) { DeleteRecords(request, response); });
  dispatcher->AddSyncWithPeer<v1::DescribeClusterRequest, v1::DescribeClusterResponse>(
      kService, "DescribeCluster",
      [this](const auto& request, auto* response, const std::string& peer) {
        DescribeCluster(request, response, context_->listener_of(peer));
      });
  dispatcher->CheckComplete(kService);
}

void AdminService::Change(const rpc::TopicChangeRequest& change, absl::Status rejected,
                          std::function<void(absl::Status)> done) {
  if (!rejected.ok()) {
    done(rejected);
    return;
  }
  context_->topics_frontend->Change(change, std::move(done));
}

namespace {

// Answers a call once each of `count` parts has finished.
std::function<void()> AfterAll(size_t count, Reply reply) {
  auto left = std::make_shared<std::atomic<size_t>>(count);
  if (count == 0) reply();
  return [left, reply = std::move(reply)] {
    if (left->fetch_sub(1) == 1) reply();
  };
}

}  // namespace

void AdminService::CreateTopics(const v1::CreateTopicsRequest& request,
                                v1::CreateTopicsResponse* response, Reply reply) {
  // Everything is read from the request before the first change goes out: the last one to
  // finish sends the response, and the call (request and response) is gone after that.
  struct Part {
    rpc::TopicChangeRequest change;
    absl::Status rejected;
    v1::Error* error;
  };
  std::vector<Part> parts;
  for (const auto& topic : request.topics()) {
    auto* result = response->add_topics();
    result->set_name(topic.name());
    rpc::TopicChangeRequest change;
    change.kind = rpc::TopicChangeRequest::Kind::kCreate;
    change.topic = topic.name();
    change.partitions =
        topic.partitions() != 0 ? topic.partitions() : context_->settings.default_partitions;
    change.replication_factor = topic.replication_factor() != 0
                                    ? topic.replication_factor()
                                    : context_->settings.default_replication_factor;
    change.configs.insert(topic.configs().begin(), topic.configs().end());
    change.validate_only = request.validate_only();
    absl::Status rejected = RejectInternalTopic(topic.name(), "create");
    // This broker's descriptors are the one budget known here; each broker checks its own
    // when it opens what it hosts.
    if (rejected.ok() && change.partitions > 0) {
      rejected = context_->topics->CheckFileBudget(change.partitions);
    }
    parts.push_back(Part{std::move(change), std::move(rejected), result->mutable_error()});
  }
  auto part_done = AfterAll(parts.size(), std::move(reply));
  for (Part& part : parts) {
    Change(part.change, part.rejected, [error = part.error, part_done](absl::Status s) {
      SetError(s, error);
      part_done();
    });
  }
}

void AdminService::DeleteTopics(const v1::DeleteTopicsRequest& request,
                                v1::DeleteTopicsResponse* response, Reply reply) {
  // As CreateTopics: nothing of the call is touched once the changes go out.
  std::vector<std::pair<rpc::TopicChangeRequest, v1::Error*>> parts;
  for (const auto& name : request.names()) {
    auto* result = response->add_topics();
    result->set_name(name);
    rpc::TopicChangeRequest change;
    change.kind = rpc::TopicChangeRequest::Kind::kDelete;
    change.topic = name;
    parts.emplace_back(std::move(change), result->mutable_error());
  }
  auto part_done = AfterAll(parts.size(), std::move(reply));
  for (auto& [change, error] : parts) {
    Change(change, RejectInternalTopic(change.topic, "delete"),
           [error = error, part_done](absl::Status s) {
             SetError(s, error);
             part_done();
           });
  }
}

void AdminService::ListTopics(const v1::ListTopicsRequest& request,
                              v1::ListTopicsResponse* response) {
  for (const auto& record : context_->topics->List()) {
    if (IsInternalTopic(record.name()) && !request.include_internal()) continue;
    auto* listing = response->add_topics();
    listing->set_name(record.name());
    listing->set_partitions(record.partitions());
    listing->set_replication_factor(record.replication_factor());
    listing->set_internal(IsInternalTopic(record.name()));
  }
}

void AdminService::DescribeTopics(const v1::DescribeTopicsRequest& request,
                                  v1::DescribeTopicsResponse* response) {
  for (const auto& name : request.names()) {
    auto* topic = response->add_topics();
    topic->set_name(name);
    topic->mutable_error()->set_leader_hint(-1);
    auto record = context_->topics->Get(name);
    if (!record) {
      SetError(ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", name)),
               topic->mutable_error());
      continue;
    }
    topic->set_replication_factor(record->replication_factor());
    if (auto id = TopicId::FromBytes(record->topic_id())) topic->set_topic_id(id->ToString());
    topic->mutable_configs()->insert(record->configs().begin(), record->configs().end());
    const auto image = context_->controller->image();
    const cluster::TopicInfo* info = image->TopicByName(name);
    for (int32_t id = 0; id < record->partitions(); ++id) {
      auto* p = topic->add_partitions();
      p->set_partition(id);
      p->set_leader(-1);
      if (info && id < static_cast<int32_t>(info->partitions.size())) {
        const cluster::PartitionAssignment& assignment = info->partitions[static_cast<size_t>(id)];
        for (NodeId replica : assignment.replicas) p->add_replicas(replica.value());
        const cluster::TopicRegistry::LeaderView view = context_->topics->Leader(name, id);
        const cluster::BrokerInfo* leader = image->Broker(view.leader);
        if (view.leader != kNoNode && (view.hosted || (leader && !leader->fenced))) {
          p->set_leader(view.leader.value());
          for (NodeId replica : view.in_sync) p->add_in_sync_replicas(replica.value());
        }
        p->set_leader_epoch(view.epoch);
      }
      auto partition = context_->topics->GetPartition(name, id);
      if (!partition.ok()) {
        // Another broker hosts it: what it holds is that broker's to say.
        if (ErrorCodeOf(partition.status()) != v1::NOT_LEADER) {
          SetError(partition.status(), p->mutable_error());
          p->set_leader(-1);
        } else {
          SetError(absl::OkStatus(), p->mutable_error());
        }
        continue;
      }
      SetError(absl::OkStatus(), p->mutable_error());
      p->set_hosted(true);
      const storage::LogStats stats = (*partition)->stats();
      p->set_log_start_offset(stats.start_offset.value());
      p->set_high_watermark((*partition)->high_watermark().value());
      p->set_size_bytes(static_cast<int64_t>(stats.size_bytes));
      p->set_segments(static_cast<int32_t>(stats.segment_count));
    }
  }
}

void AdminService::CreatePartitions(const v1::CreatePartitionsRequest& request,
                                    v1::CreatePartitionsResponse* response, Reply reply) {
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kCreatePartitions;
  change.topic = request.topic();
  change.partitions = request.total();
  Change(change, context_->topics->CheckAddPartitions(request.topic(), request.total()), [response, reply = std::move(reply)](absl::Status s) {
    SetError(s, response->mutable_error());
    reply();
  });
}

void AdminService::DescribeConfigs(const v1::DescribeConfigsRequest& request,
                                   v1::DescribeConfigsResponse* response) {
  auto record = context_->topics->Get(request.topic());
  if (!record) {
    SetError(ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", request.topic())),
             response->mutable_error());
    return;
  }
  SetError(absl::OkStatus(), response->mutable_error());
  TopicConfigs configs(record->configs().begin(), record->configs().end());
  for (const auto& entry :
       DescribeTopicConfigs(storage::LogConfig(), context_->topics->log_defaults(), configs)) {
    auto* out = response->add_configs();
    out->set_name(entry.name);
    out->set_value(entry.value);
    out->set_is_default(entry.source != ConfigSource::kTopic);
    out->set_source(entry.source == ConfigSource::kTopic    ? v1::TOPIC_CONFIG
                    : entry.source == ConfigSource::kBroker ? v1::BROKER_CONFIG
                                                            : v1::DEFAULT_CONFIG);
  }
}

void AdminService::AlterConfigs(const v1::AlterConfigsRequest& request,
                                v1::AlterConfigsResponse* response, Reply reply) {
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kAlterConfigs;
  change.topic = request.topic();
  change.configs.insert(request.set().begin(), request.set().end());
  change.remove_configs.assign(request.remove().begin(), request.remove().end());
  change.validate_only = request.validate_only();
  Change(change, RejectInternalTopic(request.topic(), "reconfigure"),
         [response, reply = std::move(reply)](absl::Status s) {
           SetError(s, response->mutable_error());
           reply();
         });
}

void AdminService::DeleteRecords(const v1::DeleteRecordsRequest& request,
                                 v1::DeleteRecordsResponse* response) {
  if (absl::Status s = RejectInternalTopic(request.topic(), "delete records of"); !s.ok()) {
    SetError(s, response->mutable_error());
    return;
  }
  if (!context_->topics->Get(request.topic())) {
    SetError(ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", request.topic())),
             response->mutable_error());
    return;
  }
  SetError(absl::OkStatus(), response->mutable_error());
  for (const auto& p : request.partitions()) {
    auto* result = response->add_partitions();
    result->set_partition(p.partition());
    result->set_low_watermark(-1);
    auto partition = context_->topics->GetPartition(request.topic(), p.partition());
    if (!partition.ok()) {
      SetError(partition.status(), result->mutable_error());
      continue;
    }
    // -1 is Kafka's "the high watermark"; any other negative offset is out of range.
    auto start =
        (*partition)
            ->DeleteRecordsBefore(p.offset() == -1 ? std::nullopt
                                                   : std::optional<Offset>(Offset(p.offset())));
    SetError(start.status(), result->mutable_error());
    if (start.ok()) result->set_low_watermark(start->value());
  }
}

void AdminService::TransferLeadership(const v1::TransferLeadershipRequest& request,
                                      v1::TransferLeadershipResponse* response) {
  // A broker holding no replica answers NOT_LEADER naming the leader it knows of.
  auto partition = context_->topics->GetPartition(request.topic(), request.partition());
  if (!partition.ok()) {
    SetError(partition.status(), response->mutable_error());
    return;
  }
  SetError((*partition)->TransferLeadership(NodeId(request.to())), response->mutable_error());
}

void AdminService::ReassignPartition(const v1::ReassignPartitionRequest& request,
                                     v1::ReassignPartitionResponse* response, Reply reply) {
  rpc::TopicChangeRequest change;
  change.kind = request.cancel() ? rpc::TopicChangeRequest::Kind::kCancelReassignment
                                 : rpc::TopicChangeRequest::Kind::kReassign;
  change.topic = request.topic();
  change.partition = request.partition();
  for (int32_t replica : request.replicas()) change.replicas.push_back(NodeId(replica));
  if (request.has_throttle_bytes_per_second()) {
    change.throttle_bytes_per_second = request.throttle_bytes_per_second();
  }
  Change(change, absl::OkStatus(), [response, reply = std::move(reply)](absl::Status s) {
    SetError(s, response->mutable_error());
    reply();
  });
}

void AdminService::ListReassignments(const v1::ListReassignmentsRequest& request,
                                     v1::ListReassignmentsResponse* response) {
  const auto image = context_->controller->image();
  for (const auto& [topic_id, topic] : image->topics()) {
    if (!request.topic().empty() && topic.name != request.topic()) continue;
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const cluster::PartitionAssignment& assignment = topic.partitions[p];
      const auto index = static_cast<int32_t>(p);
      if (!assignment.moving() || (request.has_partition() && index != request.partition())) {
        continue;
      }
      auto* out = response->add_reassignments();
      out->set_topic(topic.name);
      out->set_partition(index);
      for (NodeId n : assignment.replicas) out->add_replicas(n.value());
      for (NodeId n : assignment.target_replicas) out->add_target_replicas(n.value());
      out->set_throttle_bytes_per_second(assignment.move_throttle_bytes_per_second);
      auto partition = context_->topics->GetPartition(topic.name, index);
      if (!partition.ok()) continue;
      const cluster::RaftGroupStatus raft = (*partition)->raft_status();
      if (raft.role != raft::Role::kLeader) continue;
      out->set_from_leader(true);
      out->set_leader(raft.leader.value());
      // Raft indexes are last offsets: the log ends one past.
      out->set_leader_end_offset(raft.last_index.value() + 1);
      for (NodeId n : assignment.Hosts()) {
        auto* member = out->add_members();
        member->set_node_id(n.value());
        member->set_voter(raft.conf.IsVoter(n));
        member->set_learner(raft.conf.IsLearner(n));
        auto match = raft.matches.find(n);
        const raft::Index matched = n == raft.leader ? raft.last_index
                                    : match == raft.matches.end() ? raft::Index(0)
                                                                  : match->second;
        member->set_matched_offset(matched.value());
      }
    }
  }
}

void AdminService::DecommissionBroker(const v1::DecommissionBrokerRequest& request,
                                      v1::DecommissionBrokerResponse* response, Reply reply) {
  rpc::TopicChangeRequest change;
  change.kind = request.recommission() ? rpc::TopicChangeRequest::Kind::kRecommission
                                       : rpc::TopicChangeRequest::Kind::kDecommission;
  change.node = NodeId(request.node_id());
  Change(change, absl::OkStatus(), [response, reply = std::move(reply)](absl::Status s) {
    SetError(s, response->mutable_error());
    reply();
  });
}

void AdminService::DescribeCluster(const v1::DescribeClusterRequest&,
                                   v1::DescribeClusterResponse* response,
                                   const std::string& listener) {
  const cluster::Controller& controller = *context_->controller;
  const auto image = controller.image();
  const cluster::ControllerStatus status = controller.status();
  response->set_cluster_id(controller.options().cluster_id);
  response->set_controller_id(status.raft.leader == kNoNode ? -1 : status.raft.leader.value());
  for (const auto& [id, address] : controller.options().voters) response->add_voters(id.value());
  response->set_node_id(context_->settings.node_id);
  response->set_metadata_offset(status.metadata_offset.value());
  response->set_snapshot_offset(status.snapshot_offset.value());
  std::map<NodeId, std::pair<int32_t, int32_t>> counts;  // replicas, leaders
  int32_t offline = 0;
  for (const auto& [topic_id, topic] : image->topics()) {
    for (const auto& p : topic.partitions) {
      for (NodeId replica : p.Hosts()) ++counts[replica].first;
      ++counts[p.leader].second;
      const cluster::BrokerInfo* leader = image->Broker(p.leader);
      if (!leader || leader->fenced) ++offline;
    }
  }
  response->set_offline_partitions(offline);
  int32_t leading = 0;
  for (const auto& partition : context_->topics->AllPartitions()) {
    if (!partition->state().serving) continue;
    ++leading;
    const auto view = context_->topics->Leader(partition->topic(), partition->id().value());
    const cluster::RaftGroupStatus raft = partition->raft_status();
    if (view.in_sync.size() >= raft.conf.voters.size()) continue;
    auto* under = response->add_under_replicated();
    under->set_topic(partition->topic());
    under->set_partition(partition->id().value());
    for (NodeId voter : raft.conf.voters) under->add_replicas(voter.value());
    for (NodeId replica : view.in_sync) under->add_in_sync_replicas(replica.value());
  }
  response->set_leading(leading);
  for (const auto& [id, info] : image->brokers()) {
    auto* broker = response->add_brokers();
    broker->set_node_id(id.value());
    broker->set_fenced(info.fenced);
    broker->set_broker_epoch(info.epoch);
    broker->set_replicas(counts[id].first);
    broker->set_leaders(counts[id].second);
    broker->set_voter(controller.IsVoter(id));
    broker->set_decommissioning(image->Decommissioning(id));
    // The listener the request came in on first: its clients reach the brokers there.
    std::vector<cluster::Endpoint> endpoints = info.endpoints;
    std::stable_partition(endpoints.begin(), endpoints.end(),
                          [&listener](const cluster::Endpoint& e) { return e.name == listener; });
    for (const auto& e : endpoints) {
      auto* out = broker->add_listeners();
      out->set_name(e.name);
      out->set_host(e.host);
      out->set_port(e.port);
    }
  }
}

}  // namespace rill::server
