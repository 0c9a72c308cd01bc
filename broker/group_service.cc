#include "broker/group_service.h"

namespace rill::broker {

template <typename Response>
std::function<void()> GroupService::Finisher(const char* api, grpc::ServerUnaryReactor* reactor,
                                             Response* response) {
  context_->metrics->Request(api);
  return [this, api, reactor, response] {
    if (response->error().code() != v1::NONE) {
      context_->metrics->Error(api, response->error().code());
    }
    reactor->Finish(grpc::Status::OK);
  };
}

grpc::ServerUnaryReactor* GroupService::Heartbeat(grpc::CallbackServerContext* call,
                                                  const v1::GroupHeartbeatRequest* request,
                                                  v1::GroupHeartbeatResponse* response) {
  auto* reactor = call->DefaultReactor();
  coordinator_->Heartbeat(*request, response, Finisher("group_heartbeat", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::CommitOffsets(grpc::CallbackServerContext* call,
                                                      const v1::CommitOffsetsRequest* request,
                                                      v1::CommitOffsetsResponse* response) {
  auto* reactor = call->DefaultReactor();
  coordinator_->CommitOffsets(*request, response, Finisher("offset_commit", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::FetchOffsets(grpc::CallbackServerContext* call,
                                                     const v1::FetchOffsetsRequest* request,
                                                     v1::FetchOffsetsResponse* response) {
  auto* reactor = call->DefaultReactor();
  auto finish = Finisher("offset_fetch", reactor, response);
  coordinator_->FetchOffsets(*request, response);
  finish();
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::ListGroups(grpc::CallbackServerContext* call,
                                                   const v1::ListGroupsRequest*,
                                                   v1::ListGroupsResponse* response) {
  auto* reactor = call->DefaultReactor();
  auto finish = Finisher("list_groups", reactor, response);
  coordinator_->ListGroups(response);
  finish();
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::DescribeGroup(grpc::CallbackServerContext* call,
                                                      const v1::DescribeGroupRequest* request,
                                                      v1::DescribeGroupResponse* response) {
  auto* reactor = call->DefaultReactor();
  auto finish = Finisher("describe_group", reactor, response);
  coordinator_->DescribeGroup(*request, response);
  finish();
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::DeleteGroup(grpc::CallbackServerContext* call,
                                                    const v1::DeleteGroupRequest* request,
                                                    v1::DeleteGroupResponse* response) {
  auto* reactor = call->DefaultReactor();
  coordinator_->DeleteGroup(*request, response, Finisher("delete_group", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* GroupService::ResetOffsets(grpc::CallbackServerContext* call,
                                                     const v1::ResetOffsetsRequest* request,
                                                     v1::ResetOffsetsResponse* response) {
  auto* reactor = call->DefaultReactor();
  coordinator_->ResetOffsets(*request, response, Finisher("reset_offsets", reactor, response));
  return reactor;
}

}  // namespace rill::broker
