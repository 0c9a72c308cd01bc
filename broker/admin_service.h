// The topic administration gRPC service (proto/rill/v1/admin.proto).
#pragma once

#include "broker/broker_context.h"
#include "rill/v1/admin.grpc.pb.h"

namespace rill::broker {

class AdminService final : public v1::Admin::CallbackService {
 public:
  explicit AdminService(BrokerContext* context) : context_(context) {}

  grpc::ServerUnaryReactor* CreateTopics(grpc::CallbackServerContext* call,
                                         const v1::CreateTopicsRequest* request,
                                         v1::CreateTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopics(grpc::CallbackServerContext* call,
                                         const v1::DeleteTopicsRequest* request,
                                         v1::DeleteTopicsResponse* response) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* call,
                                       const v1::ListTopicsRequest* request,
                                       v1::ListTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeTopics(grpc::CallbackServerContext* call,
                                           const v1::DescribeTopicsRequest* request,
                                           v1::DescribeTopicsResponse* response) override;
  grpc::ServerUnaryReactor* CreatePartitions(grpc::CallbackServerContext* call,
                                             const v1::CreatePartitionsRequest* request,
                                             v1::CreatePartitionsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeConfigs(grpc::CallbackServerContext* call,
                                            const v1::DescribeConfigsRequest* request,
                                            v1::DescribeConfigsResponse* response) override;
  grpc::ServerUnaryReactor* AlterConfigs(grpc::CallbackServerContext* call,
                                         const v1::AlterConfigsRequest* request,
                                         v1::AlterConfigsResponse* response) override;

 private:
  BrokerContext* const context_;
};

}  // namespace rill::broker
