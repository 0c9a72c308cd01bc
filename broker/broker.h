// Broker: one rill-broker process — storage, topics, the gRPC services and the admin HTTP
// endpoint, started and stopped in order.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"
#include "broker/config.h"
#include "cluster/topic_registry.h"
#include "coordinator/group_coordinator.h"
#include "grpcpp/server.h"
#include "server/admin_service.h"
#include "server/connection_gate.h"
#include "server/group_service.h"
#include "server/guarded_connections.h"
#include "server/http_server.h"
#include "server/rill_service.h"
#include "server/rpc_dispatcher.h"
#include "server/server_context.h"
#include "storage/log_manager.h"
#include "storage/meta_store.h"

namespace rill::broker {

class Broker {
 public:
  explicit Broker(BrokerConfig config);
  ~Broker();

  // Binds the ports, opens (recovering) the data directory and starts serving. Errors leave
  // nothing running, and no data directory where there was none.
  absl::Status Start();
  // Stops serving, answers waiting fetches, syncs and closes every log. Idempotent.
  void Stop();

  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& admin_address() const { return admin_address_; }

 private:
  absl::Status BindPorts();
  std::map<std::string, server::HttpServer::Handler> AdminHandlers();
  absl::Status OpenAndServe(int64_t files_reserved);
  absl::Status StartServing();
  void ReleaseMemoryWhenIdle();

  const BrokerConfig config_;
  server::ServerContext context_;
  std::unique_ptr<storage::MetaStore> meta_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<cluster::TopicRegistry> topics_;
  std::unique_ptr<server::BrokerMetrics> metrics_;
  std::unique_ptr<base::ByteBudget> fetch_budget_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<server::RillService> rill_service_;
  std::unique_ptr<server::AdminService> admin_service_;
  std::unique_ptr<coordinator::GroupCoordinator> coordinator_;
  std::unique_ptr<server::GroupService> group_service_;
  std::unique_ptr<server::RpcDispatcher> dispatcher_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<server::GuardedConnections> grpc_connections_;
  std::unique_ptr<server::ConnectionGate> grpc_gate_;
  std::unique_ptr<server::HttpServer> http_;
  // Gives freed heap back to the kernel when the broker has been idle (ReleaseMemoryWhenIdle).
  std::unique_ptr<asio::steady_timer> release_timer_;
  uint64_t calls_at_last_release_ = 0;
  std::atomic<bool> ready_{false};
  std::string cluster_id_;
  std::string grpc_address_;
  std::string admin_address_;
  bool stopped_ = false;
};

}  // namespace rill::broker
