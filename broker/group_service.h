// GroupService: the rill.v1.Groups API, a thin layer over the GroupCoordinator, called by the
// RpcDispatcher.
#pragma once

#include "broker/broker_context.h"
#include "broker/group_coordinator.h"
#include "broker/rpc_dispatcher.h"
#include "rill/v1/group.pb.h"

namespace rill::broker {

class GroupService {
 public:
  GroupService(BrokerContext* context, GroupCoordinator* coordinator)
      : context_(context), coordinator_(coordinator) {}

  // Routes the rill.v1.Groups methods to this service.
  void Register(RpcDispatcher* dispatcher);

 private:
  // Adds one method whose answer carries an `error`: `run` gets the request, the response and
  // the function that finishes the call, counting the request and its error in metrics.
  template <typename Request, typename Response>
  void Add(RpcDispatcher* dispatcher, const char* method, const char* api,
           std::function<void(const Request&, Response*, std::function<void()>)> run);

  BrokerContext* const context_;
  GroupCoordinator* const coordinator_;
};

}  // namespace rill::broker
