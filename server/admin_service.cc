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
  dispatcher->AddSync<v1::CreateTopicsRequest, v1::CreateTopicsResponse>(
      kService, "CreateTopics",
      [this](const auto& request, auto* response) { CreateTopics(request, response); });
  dispatcher->AddSync<v1::DeleteTopicsRequest, v1::DeleteTopicsResponse>(
      kService, "DeleteTopics",
      [this](const auto& request, auto* response) { DeleteTopics(request, response); });
  dispatcher->AddSync<v1::ListTopicsRequest, v1::ListTopicsResponse>(
      kService, "ListTopics",
      [this](const auto& request, auto* response) { ListTopics(request, response); });
  dispatcher->AddSync<v1::DescribeTopicsRequest, v1::DescribeTopicsResponse>(
      kService, "DescribeTopics",
      [this](const auto& request, auto* response) { DescribeTopics(request, response); });
  dispatcher->AddSync<v1::CreatePartitionsRequest, v1::CreatePartitionsResponse>(
      kService, "CreatePartitions",
      [this](const auto& request, auto* response) { CreatePartitions(request, response); });
  dispatcher->AddSync<v1::DescribeConfigsRequest, v1::DescribeConfigsResponse>(
      kService, "DescribeConfigs",
      [this](const auto& request, auto* response) { DescribeConfigs(request, response); });
  dispatcher->AddSync<v1::AlterConfigsRequest, v1::AlterConfigsResponse>(
      kService, "AlterConfigs",
      [this](const auto& request, auto* response) { AlterConfigs(request, response); });
  dispatcher->AddSync<v1::DeleteRecordsRequest, v1::DeleteRecordsResponse>(
      kService, "DeleteRecords",
      [this](const auto& request, auto* response) { DeleteRecords(request, response); });
  dispatcher->CheckComplete(kService);
}

void AdminService::CreateTopics(const v1::CreateTopicsRequest& request,
                                v1::CreateTopicsResponse* response) {
  for (const auto& topic : request.topics()) {
    auto* result = response->add_topics();
    result->set_name(topic.name());
    int32_t partitions =
        topic.partitions() != 0 ? topic.partitions() : context_->settings.default_partitions;
    int32_t replication = topic.replication_factor() != 0
                              ? topic.replication_factor()
                              : context_->settings.default_replication_factor;
    TopicConfigs configs(topic.configs().begin(), topic.configs().end());
    if (auto s = RejectInternalTopic(topic.name(), "create"); !s.ok()) {
      SetError(s, result->mutable_error());
      continue;
    }
    auto created = context_->topics->Create(topic.name(), partitions, replication, configs,
                                            request.validate_only());
    SetError(created.status(), result->mutable_error());
  }
}

void AdminService::DeleteTopics(const v1::DeleteTopicsRequest& request,
                                v1::DeleteTopicsResponse* response) {
  for (const auto& name : request.names()) {
    auto* result = response->add_topics();
    result->set_name(name);
    absl::Status s = RejectInternalTopic(name, "delete");
    SetError(s.ok() ? context_->topics->Delete(name) : s, result->mutable_error());
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
  const int32_t node = context_->settings.node_id;
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
    for (int32_t id = 0; id < record->partitions(); ++id) {
      auto* p = topic->add_partitions();
      p->set_partition(id);
      p->add_replicas(node);
      auto partition = context_->topics->GetPartition(name, id);
      SetError(partition.status(), p->mutable_error());
      if (!partition.ok()) {
        p->set_leader(-1);
        continue;
      }
      const storage::LogStats stats = (*partition)->stats();
      p->set_leader(node);
      p->add_in_sync_replicas(node);
      p->set_log_start_offset(stats.start_offset.value());
      p->set_high_watermark((*partition)->high_watermark().value());
      p->set_size_bytes(static_cast<int64_t>(stats.size_bytes));
      p->set_segments(static_cast<int32_t>(stats.segment_count));
    }
  }
}

void AdminService::CreatePartitions(const v1::CreatePartitionsRequest& request,
                                    v1::CreatePartitionsResponse* response) {
  absl::Status internal = RejectInternalTopic(request.topic(), "add partitions to");
  SetError(internal.ok() ? context_->topics->CreatePartitions(request.topic(), request.total())
                         : internal,
           response->mutable_error());
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
                                v1::AlterConfigsResponse* response) {
  TopicConfigs set(request.set().begin(), request.set().end());
  std::vector<std::string> remove(request.remove().begin(), request.remove().end());
  absl::Status internal = RejectInternalTopic(request.topic(), "reconfigure");
  SetError(internal.ok() ? context_->topics->AlterConfigs(request.topic(), set, remove,
                                                          request.validate_only())
                         : internal,
           response->mutable_error());
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

}  // namespace rill::server
