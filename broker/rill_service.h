// The data-plane gRPC service (proto/rill/v1/rill.proto): Produce, Fetch, ListOffsets,
// Metadata, on the callback API. Produce answers when its acks level is met; Fetch long-polls
// on the partitions' high watermarks with a timer on the broker's io_context.
#pragma once

#include "broker/broker_context.h"
#include "rill/v1/rill.grpc.pb.h"

namespace rill::broker {

class RillService final : public v1::Rill::CallbackService {
 public:
  explicit RillService(BrokerContext* context) : context_(context) {}

  grpc::ServerUnaryReactor* Produce(grpc::CallbackServerContext* call,
                                    const v1::ProduceRequest* request,
                                    v1::ProduceResponse* response) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* call,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  grpc::ServerUnaryReactor* ListOffsets(grpc::CallbackServerContext* call,
                                        const v1::ListOffsetsRequest* request,
                                        v1::ListOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* Metadata(grpc::CallbackServerContext* call,
                                     const v1::MetadataRequest* request,
                                     v1::MetadataResponse* response) override;

 private:
  // The partition, creating its topic first when auto-creation is on.
  absl::StatusOr<std::shared_ptr<Partition>> Resolve(const std::string& topic, int32_t partition);

  BrokerContext* const context_;
};

}  // namespace rill::broker
