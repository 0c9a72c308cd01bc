// The data-plane API (proto/rill/v1/rill.proto): Produce, Fetch, ListOffsets, Metadata, called
// by the RpcDispatcher. Produce answers when its acks level is met; Fetch long-polls on the
// partitions' high watermarks with a timer on the broker's io_context.
#pragma once

#include "rill/v1/rill.pb.h"
#include "server/rpc_dispatcher.h"
#include "server/server_context.h"

namespace rill::server {

class RillService {
 public:
  explicit RillService(ServerContext* context) : context_(context) {}

  // Routes the rill.v1.Rill methods to this service.
  void Register(RpcDispatcher* dispatcher);

  void Produce(const v1::ProduceRequest& request, v1::ProduceResponse* response,
               RpcDispatcher::Reply reply);
  void Fetch(const v1::FetchRequest& request, v1::FetchResponse* response,
             RpcDispatcher::Reply reply);
  void ListOffsets(const v1::ListOffsetsRequest& request, v1::ListOffsetsResponse* response);
  // `listener`: the client listener the request came in on (its addresses are answered).
  void Metadata(const v1::MetadataRequest& request, v1::MetadataResponse* response,
                const std::string& listener);
  void InitProducerId(const v1::InitProducerIdRequest& request,
                      v1::InitProducerIdResponse* response, RpcDispatcher::Reply reply);

 private:
  // The partition, creating its topic first when auto-creation is on.
  absl::StatusOr<std::shared_ptr<cluster::Partition>> Resolve(const std::string& topic,
                                                              int32_t partition);

  ServerContext* const context_;
};

}  // namespace rill::server
