#include "rpc/controller_client.h"

#include <iterator>

#include "api/error.h"
#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "rpc/controller_service.h"

namespace rill::rpc {

namespace {
using internal::v1::Controller;

// Requests in a call's life: the first try and up to this many more.
constexpr int kMaxHops = 4;

void Fill(const RegisterBrokerRequest& r, internal::v1::RegisterBrokerRequest* out) {
  out->set_node_id(r.node.value());
  out->set_incarnation_id(r.incarnation_id);
  out->set_rack(r.rack);
  out->set_controller_voters(r.controller_voters);
  for (const auto& e : r.endpoints) {
    auto* endpoint = out->add_endpoints();
    endpoint->set_name(e.name);
    endpoint->set_host(e.host);
    endpoint->set_port(e.port);
  }
}

void Fill(const BrokerHeartbeatRequest& r, internal::v1::BrokerHeartbeatRequest* out) {
  out->set_node_id(r.node.value());
  out->set_broker_epoch(r.broker_epoch);
  out->set_metadata_offset(r.metadata_offset.value());
}

void Fill(const AllocateProducerIdsRequest& r, internal::v1::AllocateProducerIdsRequest* out) {
  out->set_node_id(r.node.value());
  out->set_broker_epoch(r.broker_epoch);
}

void Fill(const TopicChangeRequest& r, internal::v1::TopicChangeRequest* out) {
  using Kind = TopicChangeRequest::Kind;
  switch (r.kind) {
    case Kind::kCreate:
      out->set_kind(internal::v1::TopicChangeRequest::CREATE);
      break;
    case Kind::kDelete:
      out->set_kind(internal::v1::TopicChangeRequest::DELETE);
      break;
    case Kind::kCreatePartitions:
      out->set_kind(internal::v1::TopicChangeRequest::CREATE_PARTITIONS);
      break;
    case Kind::kAlterConfigs:
      out->set_kind(internal::v1::TopicChangeRequest::ALTER_CONFIGS);
      break;
    case Kind::kReassign:
      out->set_kind(internal::v1::TopicChangeRequest::REASSIGN);
      break;
    case Kind::kCancelReassignment:
      out->set_kind(internal::v1::TopicChangeRequest::CANCEL_REASSIGNMENT);
      break;
    case Kind::kCompleteReassignment:
      out->set_kind(internal::v1::TopicChangeRequest::COMPLETE_REASSIGNMENT);
      break;
    case Kind::kDecommission:
      out->set_kind(internal::v1::TopicChangeRequest::DECOMMISSION);
      break;
    case Kind::kRecommission:
      out->set_kind(internal::v1::TopicChangeRequest::RECOMMISSION);
      break;
  }
  out->set_topic(r.topic);
  out->set_partitions(r.partitions);
  out->set_replication_factor(r.replication_factor);
  out->mutable_configs()->insert(r.configs.begin(), r.configs.end());
  for (const auto& key : r.remove_configs) out->add_remove_configs(key);
  out->set_validate_only(r.validate_only);
  out->set_partition_index(r.partition);
  for (NodeId replica : r.replicas) out->add_replicas(replica.value());
  if (r.throttle_bytes_per_second) {
    out->set_throttle_bytes_per_second(*r.throttle_bytes_per_second);
  }
  out->set_topic_id(r.topic_id);
  out->set_node_id(r.node.value());
}

int64_t ValueOf(const internal::v1::RegisterBrokerResponse& r) { return r.broker_epoch(); }
bool ValueOf(const internal::v1::BrokerHeartbeatResponse& r) { return r.fenced(); }
Offset ValueOf(const internal::v1::TopicChangeResponse& r) { return Offset(r.metadata_offset()); }
ProducerIdRange ValueOf(const internal::v1::AllocateProducerIdsResponse& r) {
  return ProducerIdRange{r.first_producer_id(), r.count()};
}

void Invoke(Controller::Stub* stub, grpc::ClientContext* context,
            const internal::v1::RegisterBrokerRequest* request,
            internal::v1::RegisterBrokerResponse* response,
            std::function<void(grpc::Status)> done) {
  stub->async()->RegisterBroker(context, request, response, std::move(done));
}
void Invoke(Controller::Stub* stub, grpc::ClientContext* context,
            const internal::v1::BrokerHeartbeatRequest* request,
            internal::v1::BrokerHeartbeatResponse* response,
            std::function<void(grpc::Status)> done) {
  stub->async()->BrokerHeartbeat(context, request, response, std::move(done));
}
void Invoke(Controller::Stub* stub, grpc::ClientContext* context,
            const internal::v1::TopicChangeRequest* request,
            internal::v1::TopicChangeResponse* response, std::function<void(grpc::Status)> done) {
  stub->async()->ChangeTopic(context, request, response, std::move(done));
}
void Invoke(Controller::Stub* stub, grpc::ClientContext* context,
            const internal::v1::AllocateProducerIdsRequest* request,
            internal::v1::AllocateProducerIdsResponse* response,
            std::function<void(grpc::Status)> done) {
  stub->async()->AllocateProducerIds(context, request, response, std::move(done));
}

}  // namespace

template <typename Request, typename Response, typename T>
struct ControllerClient::Call {
  Request request;
  Response response;
  std::unique_ptr<grpc::ClientContext> context;
  Reply<T> reply;
  int hops = 0;
  NodeId hint;
};

ControllerClient::ControllerClient(ControllerClientOptions options)
    : options_(std::move(options)) {}

ControllerClient::~ControllerClient() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* calls) { return *calls == 0; }, &calls_in_flight_));
}

void ControllerClient::SetLeaderHint(NodeId leader) {
  absl::MutexLock lock(&mu_);
  if (options_.voters.contains(leader)) leader_ = leader;
}

NodeId ControllerClient::Target(NodeId hint) {
  absl::MutexLock lock(&mu_);
  if (options_.voters.contains(hint)) return hint;
  if (leader_ != kNoNode) return leader_;
  auto it = options_.voters.begin();
  std::advance(it, next_voter_++ % options_.voters.size());
  return it->first;
}

Controller::Stub* ControllerClient::Stub(NodeId node) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[node];
  if (!stub) {
    stub = Controller::NewStub(
        grpc::CreateChannel(options_.voters.at(node), grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

void ControllerClient::CallEnded() {
  absl::MutexLock lock(&mu_);
  --calls_in_flight_;
}

template <typename Request, typename Response, typename T>
void ControllerClient::Start(std::shared_ptr<Call<Request, Response, T>> call) {
  const NodeId target = Target(call->hint);
  call->context = std::make_unique<grpc::ClientContext>();
  call->context->set_deadline(std::chrono::system_clock::now() +
                              std::chrono::milliseconds(options_.request_timeout_ms));
  call->response.Clear();
  {
    absl::MutexLock lock(&mu_);
    ++calls_in_flight_;
  }
  Invoke(Stub(target), call->context.get(), &call->request, &call->response,
         [this, call, target](grpc::Status status) {
           absl::Status outcome;
           if (!status.ok()) {
             outcome = absl::UnavailableError(fmt::format(
                 "controller voter {} at {}: {}", target, options_.voters.at(target),
                 status.error_message()));
             absl::MutexLock lock(&mu_);
             if (leader_ == target) leader_ = kNoNode;
             call->hint = kNoNode;
           } else {
             outcome = DecodeControllerError(call->response.error());
             if (api::ErrorCodeOf(outcome) == v1::NOT_CONTROLLER) {
               absl::MutexLock lock(&mu_);
               if (leader_ == target) leader_ = kNoNode;
               call->hint = NodeId(api::LeaderHintOf(outcome));
             } else {
               absl::MutexLock lock(&mu_);
               leader_ = target;
             }
           }
           const bool retry = (absl::IsUnavailable(outcome)) && ++call->hops <= kMaxHops;
           if (retry) {
             Start(call);
           } else if (outcome.ok()) {
             call->reply(ValueOf(call->response));
           } else {
             call->reply(outcome);
           }
           CallEnded();
         });
}

template <typename Request, typename Response, typename T, typename Domain>
void ControllerClient::Send(const Domain& request, Reply<T> reply) {
  auto call = std::make_shared<Call<Request, Response, T>>();
  call->request.set_version(kControllerApiVersion);
  call->request.set_cluster_id(options_.cluster_id);
  Fill(request, &call->request);
  call->reply = std::move(reply);
  Start(call);
}

void ControllerClient::RegisterBroker(const RegisterBrokerRequest& request, Reply<int64_t> reply) {
  Send<internal::v1::RegisterBrokerRequest, internal::v1::RegisterBrokerResponse>(
      request, std::move(reply));
}

void ControllerClient::BrokerHeartbeat(const BrokerHeartbeatRequest& request, Reply<bool> reply) {
  Send<internal::v1::BrokerHeartbeatRequest, internal::v1::BrokerHeartbeatResponse>(
      request, std::move(reply));
}

void ControllerClient::ChangeTopic(const TopicChangeRequest& request, Reply<Offset> reply) {
  Send<internal::v1::TopicChangeRequest, internal::v1::TopicChangeResponse>(request,
                                                                            std::move(reply));
}

void ControllerClient::AllocateProducerIds(const AllocateProducerIdsRequest& request,
                                           Reply<ProducerIdRange> reply) {
  Send<internal::v1::AllocateProducerIdsRequest, internal::v1::AllocateProducerIdsResponse>(
      request, std::move(reply));
}

}  // namespace rill::rpc
