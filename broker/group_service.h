// GroupService: the rill.v1.Groups gRPC service, a thin layer over the GroupCoordinator.
#pragma once

#include "broker/broker_context.h"
#include "broker/group_coordinator.h"
#include "rill/v1/group.grpc.pb.h"

namespace rill::broker {

class GroupService final : public v1::Groups::CallbackService {
 public:
  GroupService(BrokerContext* context, GroupCoordinator* coordinator)
      : context_(context), coordinator_(coordinator) {}

  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* call,
                                      const v1::GroupHeartbeatRequest* request,
                                      v1::GroupHeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* CommitOffsets(grpc::CallbackServerContext* call,
                                          const v1::CommitOffsetsRequest* request,
                                          v1::CommitOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* FetchOffsets(grpc::CallbackServerContext* call,
                                         const v1::FetchOffsetsRequest* request,
                                         v1::FetchOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* call,
                                       const v1::ListGroupsRequest* request,
                                       v1::ListGroupsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeGroup(grpc::CallbackServerContext* call,
                                          const v1::DescribeGroupRequest* request,
                                          v1::DescribeGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext* call,
                                        const v1::DeleteGroupRequest* request,
                                        v1::DeleteGroupResponse* response) override;
  grpc::ServerUnaryReactor* ResetOffsets(grpc::CallbackServerContext* call,
                                         const v1::ResetOffsetsRequest* request,
                                         v1::ResetOffsetsResponse* response) override;

 private:
  // Finishes the call once `error` is known, counting the request and its error in metrics.
  template <typename Response>
  std::function<void()> Finisher(const char* api, grpc::ServerUnaryReactor* reactor,
                                 Response* response);

  BrokerContext* const context_;
  GroupCoordinator* const coordinator_;
};

}  // namespace rill::broker
