// GroupService: the rill.v1.Groups API, a thin layer over the GroupCoordinator, called by the
// RpcDispatcher.
#pragma once

#include "coordinator/group_coordinator.h"
#include "rill/v1/group.pb.h"
#include "server/rpc_dispatcher.h"
#include "server/server_context.h"

namespace rill::server {

class GroupService {
 public:
  GroupService(ServerContext* context, coordinator::GroupCoordinator* coordinator)
      : context_(context), coordinator_(coordinator) {}

  // Routes the rill.v1.Groups methods to this service.
  void Register(RpcDispatcher* dispatcher);

 private:
  // Adds one method whose answer carries an `error`: `run` gets the request, the response and
  // the function that finishes the call, counting the request and its error in metrics.
  template <typename Request, typename Response>
  void Add(RpcDispatcher* dispatcher, const char* method, const char* api,
           std::function<void(const Request&, Response*, std::function<void()>)> run);

  ServerContext* const context_;
  coordinator::GroupCoordinator* const coordinator_;
};

}  // namespace rill::server
