// ControllerClient: a broker's way to the controller quorum's leader. Each request goes to the
// voter believed to lead; an answer of NOT_CONTROLLER naming another leader, or a voter that
// cannot be reached, sends it on to the next (the named leader first), a few hops at most, so
// callers see the leader's answer or the last error.
//
// Thread-safety: all methods are thread-safe and never block; replies come on gRPC threads.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "rill/internal/v1/controller.grpc.pb.h"
#include "rpc/controller_api.h"

namespace rill::rpc {

struct ControllerClientOptions {
  std::string cluster_id;
  // The voters' broker-to-broker addresses (host:port), by node id.
  std::map<NodeId, std::string> voters;
  int64_t request_timeout_ms = 5000;
};

class ControllerClient {
 public:
  explicit ControllerClient(ControllerClientOptions options);
  // Waits for the calls in flight to end (each within its deadline).
  ~ControllerClient();
  ControllerClient(const ControllerClient&) = delete;
  ControllerClient& operator=(const ControllerClient&) = delete;

  void RegisterBroker(const RegisterBrokerRequest& request, Reply<int64_t> reply);
  void BrokerHeartbeat(const BrokerHeartbeatRequest& request, Reply<bool> reply);
  void ChangeTopic(const TopicChangeRequest& request, Reply<Offset> reply);
  void AllocateProducerIds(const AllocateProducerIdsRequest& request,
                           Reply<ProducerIdRange> reply);

  // A hint from elsewhere (the metadata log) of who leads.
  void SetLeaderHint(NodeId leader);

 private:
  template <typename Request, typename Response, typename T>
  struct Call;
  template <typename Request, typename Response, typename T>
  void Start(std::shared_ptr<Call<Request, Response, T>> call);
  template <typename Request, typename Response, typename T, typename Domain>
  void Send(const Domain& request, Reply<T> reply);
  // The voter to ask next: the hinted leader, else the next one in turn.
  NodeId Target(NodeId hint);
  internal::v1::Controller::Stub* Stub(NodeId node);
  void CallEnded();

  const ControllerClientOptions options_;
  absl::Mutex mu_;
  std::map<NodeId, std::unique_ptr<internal::v1::Controller::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  NodeId leader_ ABSL_GUARDED_BY(mu_);
  size_t next_voter_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rill::rpc
