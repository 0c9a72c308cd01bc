#include "server/group_service.h"

namespace rill::server {

template <typename Request, typename Response>
void GroupService::Add(RpcDispatcher* dispatcher, const char* method, const char* api,
                       std::function<void(const Request&, Response*, std::function<void()>)> run) {
  dispatcher->Add<Request, Response>(
      "rill.v1.Groups", method,
      [this, api, run = std::move(run)](const Request& request, Response* response,
                                        RpcDispatcher::Reply reply) {
        context_->metrics->Request(api);
        run(request, response, [this, api, response, reply = std::move(reply)] {
          if (response->error().code() != v1::NONE) {
            context_->metrics->Error(api, response->error().code());
          }
          reply();
        });
      });
}

void GroupService::Register(RpcDispatcher* dispatcher) {
  Add<v1::GroupHeartbeatRequest, v1::GroupHeartbeatResponse>(
      dispatcher, "Heartbeat", "group_heartbeat",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->Heartbeat(request, response, std::move(done));
      });
  Add<v1::CommitOffsetsRequest, v1::CommitOffsetsResponse>(
      dispatcher, "CommitOffsets", "offset_commit",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->CommitOffsets(request, response, std::move(done));
      });
  Add<v1::FetchOffsetsRequest, v1::FetchOffsetsResponse>(
      dispatcher, "FetchOffsets", "offset_fetch",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->FetchOffsets(request, response);
        done();
      });
  Add<v1::ListGroupsRequest, v1::ListGroupsResponse>(
      dispatcher, "ListGroups", "list_groups", [this](const auto&, auto* response, auto done) {
        coordinator_->ListGroups(response);
        done();
      });
  Add<v1::DescribeGroupRequest, v1::DescribeGroupResponse>(
      dispatcher, "DescribeGroup", "describe_group",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->DescribeGroup(request, response);
        done();
      });
  Add<v1::DeleteGroupRequest, v1::DeleteGroupResponse>(
      dispatcher, "DeleteGroup", "delete_group",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->DeleteGroup(request, response, std::move(done));
      });
  Add<v1::ResetOffsetsRequest, v1::ResetOffsetsResponse>(
      dispatcher, "ResetOffsets", "reset_offsets",
      [this](const auto& request, auto* response, auto done) {
        coordinator_->ResetOffsets(request, response, std::move(done));
      });
  dispatcher->CheckComplete("rill.v1.Groups");
}

}  // namespace rill::server
