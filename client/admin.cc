#include "rill/admin.h"

#include "api/error.h"
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
      t.name(), t.replication_factor(), {}, {t.configs().begin(), t.configs().end()}};
  for (const auto& p : t.partitions()) {
    out.partitions.push_back({p.partition(),
                              p.leader(),
                              {p.replicas().begin(), p.replicas().end()},
                              {p.in_sync_replicas().begin(), p.in_sync_replicas().end()},
                              p.log_start_offset(),
                              p.high_watermark(),
                              p.size_bytes(),
                              p.segments()});
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
  for (const auto& c : response.configs()) out.push_back({c.name(), c.value(), c.is_default()});
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
  auto response = cluster_->FetchMetadata({});
  if (!response.ok()) return response.status();
  ClusterDescription out;
  out.controller_id = response->controller_id();
  for (const auto& b : response->brokers())
    out.brokers.push_back({b.node_id(), b.host(), b.port()});
  return out;
}

#undef RILL_ADMIN_CALL

}  // namespace rill
