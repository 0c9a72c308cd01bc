// The topic administration API (proto/rill/v1/admin.proto), called by the RpcDispatcher.
#pragma once

#include "rill/v1/admin.pb.h"
#include "server/rpc_dispatcher.h"
#include "server/server_context.h"

namespace rill::server {

class AdminService {
 public:
  explicit AdminService(ServerContext* context) : context_(context) {}

  // Routes the rill.v1.Admin methods to this service.
  void Register(RpcDispatcher* dispatcher);

  // Topic changes are decided by the controller; each answers once this broker has applied
  // the outcome.
  void CreateTopics(const v1::CreateTopicsRequest& request, v1::CreateTopicsResponse* response,
                    Reply reply);
  void DeleteTopics(const v1::DeleteTopicsRequest& request, v1::DeleteTopicsResponse* response,
                    Reply reply);
  void ListTopics(const v1::ListTopicsRequest& request, v1::ListTopicsResponse* response);
  void DescribeTopics(const v1::DescribeTopicsRequest& request,
                      v1::DescribeTopicsResponse* response);
  void CreatePartitions(const v1::CreatePartitionsRequest& request,
                        v1::CreatePartitionsResponse* response, Reply reply);
  void DescribeConfigs(const v1::DescribeConfigsRequest& request,
                       v1::DescribeConfigsResponse* response);
  void AlterConfigs(const v1::AlterConfigsRequest& request, v1::AlterConfigsResponse* response,
                    Reply reply);
  void DeleteRecords(const v1::DeleteRecordsRequest& request, v1::DeleteRecordsResponse* response);
  void TransferLeadership(const v1::TransferLeadershipRequest& request,
                          v1::TransferLeadershipResponse* response);
  // `listener`: the client listener the request came in on (its addresses come first).
  void ReassignPartition(const v1::ReassignPartitionRequest& request,
                         v1::ReassignPartitionResponse* response, Reply reply);
  void ListReassignments(const v1::ListReassignmentsRequest& request,
                         v1::ListReassignmentsResponse* response);
  void DecommissionBroker(const v1::DecommissionBrokerRequest& request,
                          v1::DecommissionBrokerResponse* response, Reply reply);
  void DescribeCluster(const v1::DescribeClusterRequest& request,
                       v1::DescribeClusterResponse* response, const std::string& listener);

 private:
  // Sends `change` to the controller unless `rejected` already failed it; `done` gets the
  // outcome.
  void Change(const rpc::TopicChangeRequest& change, absl::Status rejected,
              std::function<void(absl::Status)> done);

  ServerContext* const context_;
};

}  // namespace rill::server
