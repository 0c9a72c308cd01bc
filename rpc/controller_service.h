// ControllerService: the receiving end of ControllerClient, served on the broker-to-broker
// listener. It checks each request's version and cluster id and the sizes of what it carries,
// then hands a domain request to the ControllerHandler (the controller) and answers with what
// that replies.
//
// Thread-safety: called on gRPC threads; the handler must be thread-safe and must not block.
#pragma once

#include <string>

#include "rill/internal/v1/controller.grpc.pb.h"
#include "rpc/controller_api.h"

namespace rill::rpc {

struct ControllerServiceOptions {
  std::string cluster_id;
  size_t endpoints_max = 16;
  size_t configs_max = 1000;
  size_t name_bytes_max = 1024;
};

class ControllerService final : public internal::v1::Controller::CallbackService {
 public:
  ControllerService(ControllerServiceOptions options, ControllerHandler* handler);

  grpc::ServerUnaryReactor* RegisterBroker(
      grpc::CallbackServerContext* context, const internal::v1::RegisterBrokerRequest* request,
      internal::v1::RegisterBrokerResponse* response) override;
  grpc::ServerUnaryReactor* BrokerHeartbeat(
      grpc::CallbackServerContext* context, const internal::v1::BrokerHeartbeatRequest* request,
      internal::v1::BrokerHeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* ChangeTopic(grpc::CallbackServerContext* context,
                                        const internal::v1::TopicChangeRequest* request,
                                        internal::v1::TopicChangeResponse* response) override;
  grpc::ServerUnaryReactor* AllocateProducerIds(
      grpc::CallbackServerContext* context,
      const internal::v1::AllocateProducerIdsRequest* request,
      internal::v1::AllocateProducerIdsResponse* response) override;

 private:
  // The first problem with a request's envelope, or OK.
  absl::Status CheckEnvelope(uint32_t version, const std::string& cluster_id) const;

  const ControllerServiceOptions options_;
  ControllerHandler* const handler_;
};

// The wire form of an outcome, and back.
void EncodeControllerError(const absl::Status& status, internal::v1::ControllerError* out);
absl::Status DecodeControllerError(const internal::v1::ControllerError& error);

}  // namespace rill::rpc
