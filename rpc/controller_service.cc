#include "rpc/controller_service.h"

#include "api/error.h"
#include "fmt/format.h"

namespace rill::rpc {

using api::ApiError;

namespace {
// As the metadata image's limit on a partition's replicas.
constexpr int kReplicasPerRequestMax = 64;
}  // namespace

void EncodeControllerError(const absl::Status& status, internal::v1::ControllerError* out) {
  if (status.ok()) {
    out->Clear();
    return;
  }
  out->set_code(static_cast<int32_t>(api::ErrorCodeOf(status)));
  out->set_message(std::string(status.message()));
  out->set_leader(api::LeaderHintOf(status));
}

absl::Status DecodeControllerError(const internal::v1::ControllerError& error) {
  if (error.code() == 0) return absl::OkStatus();
  if (!v1::ErrorCode_IsValid(error.code())) {
    return ApiError(v1::UNKNOWN_SERVER_ERROR,
                    fmt::format("controller answered error code {}: {}", error.code(),
                                error.message()));
  }
  return ApiError(static_cast<v1::ErrorCode>(error.code()), error.message(), error.leader());
}

ControllerService::ControllerService(ControllerServiceOptions options, ControllerHandler* handler)
    : options_(std::move(options)), handler_(handler) {}

absl::Status ControllerService::CheckEnvelope(uint32_t version,
                                              const std::string& cluster_id) const {
  if (version != kControllerApiVersion) {
    return ApiError(v1::INVALID_REQUEST,
                    fmt::format("controller API version {} (this broker speaks {})", version,
                                kControllerApiVersion));
  }
  if (cluster_id != options_.cluster_id) {
    return ApiError(v1::INCONSISTENT_CLUSTER_ID,
                    fmt::format("cluster id '{}' is not this cluster's '{}'", cluster_id,
                                options_.cluster_id));
  }
  return absl::OkStatus();
}

namespace {

// Answers `response` through `reactor` once the handler replies.
template <typename Response, typename T, typename Fill>
Reply<T> Answer(grpc::ServerUnaryReactor* reactor, Response* response, Fill fill) {
  return [reactor, response, fill](absl::StatusOr<T> result) {
    EncodeControllerError(result.status(), response->mutable_error());
    if (result.ok()) fill(*result, response);
    reactor->Finish(grpc::Status::OK);
  };
}

}  // namespace

grpc::ServerUnaryReactor* ControllerService::RegisterBroker(
    grpc::CallbackServerContext* context, const internal::v1::RegisterBrokerRequest* request,
    internal::v1::RegisterBrokerResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto reply = Answer<internal::v1::RegisterBrokerResponse, int64_t>(
      reactor, response, [](int64_t epoch, auto* r) { r->set_broker_epoch(epoch); });
  if (auto s = CheckEnvelope(request->version(), request->cluster_id()); !s.ok()) {
    reply(s);
    return reactor;
  }
  if (static_cast<size_t>(request->endpoints_size()) > options_.endpoints_max ||
      request->incarnation_id().size() != 16 ||
      request->controller_voters().size() > options_.name_bytes_max * 16 ||
      request->rack().size() > options_.name_bytes_max) {
    reply(ApiError(v1::INVALID_REQUEST,
                   fmt::format("a registration needs a 16-byte incarnation id and at most {} "
                               "endpoints",
                               options_.endpoints_max)));
    return reactor;
  }
  RegisterBrokerRequest domain;
  domain.node = NodeId(request->node_id());
  domain.incarnation_id = request->incarnation_id();
  domain.rack = request->rack();
  domain.controller_voters = request->controller_voters();
  for (const auto& e : request->endpoints()) {
    if (e.name().size() > options_.name_bytes_max || e.host().size() > options_.name_bytes_max) {
      reply(ApiError(v1::INVALID_REQUEST, "an endpoint's name or host is too long"));
      return reactor;
    }
    domain.endpoints.push_back(ListenerEndpoint{e.name(), e.host(), e.port()});
  }
  handler_->RegisterBroker(domain, std::move(reply));
  return reactor;
}

grpc::ServerUnaryReactor* ControllerService::BrokerHeartbeat(
    grpc::CallbackServerContext* context, const internal::v1::BrokerHeartbeatRequest* request,
    internal::v1::BrokerHeartbeatResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto reply = Answer<internal::v1::BrokerHeartbeatResponse, bool>(
      reactor, response, [](bool fenced, auto* r) { r->set_fenced(fenced); });
  if (auto s = CheckEnvelope(request->version(), request->cluster_id()); !s.ok()) {
    reply(s);
    return reactor;
  }
  handler_->BrokerHeartbeat(BrokerHeartbeatRequest{NodeId(request->node_id()),
                                                   request->broker_epoch(),
                                                   Offset(request->metadata_offset())},
                            std::move(reply));
  return reactor;
}

grpc::ServerUnaryReactor* ControllerService::ChangeTopic(
    grpc::CallbackServerContext* context, const internal::v1::TopicChangeRequest* request,
    internal::v1::TopicChangeResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto reply = Answer<internal::v1::TopicChangeResponse, Offset>(
      reactor, response, [](Offset offset, auto* r) { r->set_metadata_offset(offset.value()); });
  if (auto s = CheckEnvelope(request->version(), request->cluster_id()); !s.ok()) {
    reply(s);
    return reactor;
  }
  using Kind = TopicChangeRequest::Kind;
  TopicChangeRequest domain;
  switch (request->kind()) {
    case internal::v1::TopicChangeRequest::CREATE:
      domain.kind = Kind::kCreate;
      break;
    case internal::v1::TopicChangeRequest::DELETE:
      domain.kind = Kind::kDelete;
      break;
    case internal::v1::TopicChangeRequest::CREATE_PARTITIONS:
      domain.kind = Kind::kCreatePartitions;
      break;
    case internal::v1::TopicChangeRequest::ALTER_CONFIGS:
      domain.kind = Kind::kAlterConfigs;
      break;
    case internal::v1::TopicChangeRequest::REASSIGN:
      domain.kind = Kind::kReassign;
      break;
    case internal::v1::TopicChangeRequest::CANCEL_REASSIGNMENT:
      domain.kind = Kind::kCancelReassignment;
      break;
    case internal::v1::TopicChangeRequest::COMPLETE_REASSIGNMENT:
      domain.kind = Kind::kCompleteReassignment;
      break;
    case internal::v1::TopicChangeRequest::DECOMMISSION:
      domain.kind = Kind::kDecommission;
      break;
    case internal::v1::TopicChangeRequest::RECOMMISSION:
      domain.kind = Kind::kRecommission;
      break;
    default:
      reply(ApiError(v1::INVALID_REQUEST, fmt::format("unknown topic change kind {}",
                                                      static_cast<int>(request->kind()))));
      return reactor;
  }
  if (request->topic().size() > options_.name_bytes_max ||
      static_cast<size_t>(request->configs_size() + request->remove_configs_size()) >
          options_.configs_max ||
      request->replicas_size() > kReplicasPerRequestMax || request->topic_id().size() > 16) {
    reply(ApiError(v1::INVALID_REQUEST, "topic name, configs or replicas over the limit"));
    return reactor;
  }
  domain.topic = request->topic();
  domain.partitions = request->partitions();
  domain.replication_factor = request->replication_factor();
  domain.configs.insert(request->configs().begin(), request->configs().end());
  domain.remove_configs.assign(request->remove_configs().begin(), request->remove_configs().end());
  domain.validate_only = request->validate_only();
  domain.partition = request->partition_index();
  for (int32_t replica : request->replicas()) domain.replicas.push_back(NodeId(replica));
  if (request->has_throttle_bytes_per_second()) {
    domain.throttle_bytes_per_second = request->throttle_bytes_per_second();
  }
  domain.topic_id = request->topic_id();
  domain.node = NodeId(request->node_id());
  handler_->ChangeTopic(domain, std::move(reply));
  return reactor;
}

grpc::ServerUnaryReactor* ControllerService::AllocateProducerIds(
    grpc::CallbackServerContext* context, const internal::v1::AllocateProducerIdsRequest* request,
    internal::v1::AllocateProducerIdsResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto reply = Answer<internal::v1::AllocateProducerIdsResponse, ProducerIdRange>(
      reactor, response, [](const ProducerIdRange& range, auto* r) {
        r->set_first_producer_id(range.first);
        r->set_count(range.count);
      });
  if (auto s = CheckEnvelope(request->version(), request->cluster_id()); !s.ok()) {
    reply(s);
    return reactor;
  }
  handler_->AllocateProducerIds(
      AllocateProducerIdsRequest{NodeId(request->node_id()), request->broker_epoch()},
      std::move(reply));
  return reactor;
}

}  // namespace rill::rpc
