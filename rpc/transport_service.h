// TransportService: the receiving end of Transport, served on the broker-to-broker listener.
// Each Exchange is checked whole before anything in it is delivered: the version, the cluster
// id, that it is meant for this broker and comes from a node it knows, its counts, and every
// message (rpc/codec.h). A request that fails any check is answered with an error and delivers
// nothing. Messages for groups this broker does not host are reported back.
//
// Thread-safety: called on gRPC threads; the handler must be thread-safe and must not block.
#pragma once

#include <functional>
#include <string>

#include "base/ids.h"
#include "raft/types.h"
#include "rill/internal/v1/transport.grpc.pb.h"
#include "rpc/codec.h"

namespace rill::rpc {

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Hands a message to its group; false when this broker hosts no such group.
  virtual bool Deliver(const GroupKey& group, raft::Message message) = 0;
};

struct TransportServiceOptions {
  std::string cluster_id;
  NodeId self;
  // Whether `node` is a broker of the cluster (registered, or a controller voter).
  std::function<bool(NodeId)> known_node;
  size_t messages_per_request_max = 100000;
  CodecLimits codec;
};

class TransportService final : public internal::v1::BrokerTransport::CallbackService {
 public:
  TransportService(TransportServiceOptions options, MessageHandler* handler);

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* context,
                                     const internal::v1::ExchangeRequest* request,
                                     internal::v1::ExchangeResponse* response) override;

 private:
  // Checks and decodes the whole request; the first problem as an error message.
  std::string Check(const internal::v1::ExchangeRequest& request,
                    std::vector<std::pair<GroupKey, raft::Message>>* out) const;

  const TransportServiceOptions options_;
  MessageHandler* const handler_;
};

}  // namespace rill::rpc
