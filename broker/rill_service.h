// The data-plane API (proto/rill/v1/rill.proto): Produce, Fetch, ListOffsets, Metadata, called
// by the RpcDispatcher. Produce answers when its acks level is met; Fetch long-polls on the
// partitions' high watermarks with a timer on the broker's io_context.
#pragma once

#include "broker/broker_context.h"
#include "broker/rpc_dispatcher.h"
#include "rill/v1/rill.pb.h"

namespace rill::broker {

class RillService {
 public:
  explicit RillService(BrokerContext* context) : context_(context) {}

  // Routes the rill.v1.Rill methods to this service.
  void Register(RpcDispatcher* dispatcher);

  void Produce(const v1::ProduceRequest& request, v1::ProduceResponse* response,
               RpcDispatcher::Reply reply);
  void Fetch(const v1::FetchRequest& request, v1::FetchResponse* response,
             RpcDispatcher::Reply reply);
  void ListOffsets(const v1::ListOffsetsRequest& request, v1::ListOffsetsResponse* response);
  void Metadata(const v1::MetadataRequest& request, v1::MetadataResponse* response);

 private:
  // The partition, creating its topic first when auto-creation is on.
  absl::StatusOr<std::shared_ptr<cluster::Partition>> Resolve(const std::string& topic,
                                                              int32_t partition);

  BrokerContext* const context_;
};

}  // namespace rill::broker
