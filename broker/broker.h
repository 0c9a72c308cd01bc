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
#include "cluster/controller.h"
#include "cluster/topics_frontend.h"
#include "cluster/topic_registry.h"
#include "coordinator/group_coordinator.h"
#include "grpcpp/server.h"
#include "server/admin_service.h"
#include "kafka/server/listener.h"
#include "net/connection_gate.h"
#include "server/group_service.h"
#include "server/guarded_connections.h"
#include "server/http_server.h"
#include "server/rill_service.h"
#include "server/rpc_dispatcher.h"
#include "server/server_context.h"
#include "storage/log_manager.h"
#include "rpc/controller_client.h"
#include "rpc/controller_service.h"
#include "rpc/transport.h"
#include "rpc/transport_service.h"
#include "storage/meta_store.h"

namespace rill::broker {

class Broker final : private rpc::MessageHandler, private rpc::ControllerHandler {
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
  // Set when the broker stopped serving for good (refused by the cluster); main exits with it.
  absl::Status fatal_error() const;

 private:
  absl::Status BindPorts();
  absl::Status BindKafkaPorts();
  std::map<std::string, server::HttpServer::Handler> AdminHandlers();
  absl::Status OpenAndServe(int64_t files_reserved);
  absl::Status StartServing();
  void ReleaseMemoryWhenIdle();
  // Connection counts of every port, by metrics label.
  std::map<std::string, net::ConnectionStats> ListenerStats() const;
  // "name://advertised-host:port,..." for the start-up line.
  std::string ListenerSummary() const;
  // Opens the metadata log and joins the controller quorum.
  absl::Status OpenController();
  absl::Status StartInterBroker();
  // Every tick: drives the controller, registration and heartbeats, and starts the group
  // coordinator once __consumer_offsets exists.
  void Tick();
  void RegisterOrHeartbeat(int64_t now_ms);
  void EnsureOffsetsTopic();
  // Points the transport at every broker the image names.
  void UpdatePeers(const cluster::MetadataImage& image);
  // Whether this broker has registered, caught up and can serve groups.
  bool Serving() const;
  // Logs `error`, keeps it for main and asks the process to stop.
  void Fatal(absl::Status error);
  // The inter-broker listener starts before the controller opens (its address is the
  // controller's voter address): these hand over once it is open.
  bool Deliver(const rpc::GroupKey& group, raft::Message message) override;
  void RegisterBroker(const rpc::RegisterBrokerRequest& request,
                      rpc::Reply<int64_t> reply) override;
  void BrokerHeartbeat(const rpc::BrokerHeartbeatRequest& request, rpc::Reply<bool> reply) override;
  void ChangeTopic(const rpc::TopicChangeRequest& request, rpc::Reply<Offset> reply) override;
  // A partition this broker leads has finished its move: the controller ends it.
  void ReportMoveDone(TopicId topic_id, PartitionId partition, std::vector<NodeId> voters);
  void AllocateProducerIds(const rpc::AllocateProducerIdsRequest& request,
                           rpc::Reply<rpc::ProducerIdRange> reply) override;

  const BrokerConfig config_;
  server::ServerContext context_;
  std::unique_ptr<storage::MetaStore> meta_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<cluster::TopicRegistry> topics_;
  std::map<NodeId, std::string> voters_;
  std::string inter_broker_address_;
  // What other brokers are told: inter.broker.advertise, or the bound address (a wildcard
  // replaced by the host name).
  std::string inter_broker_advertised_;
  std::unique_ptr<storage::LogManager> metadata_logs_;
  std::unique_ptr<rpc::Transport> transport_;
  std::unique_ptr<cluster::Controller> controller_;
  // controller_ once it is open, for the inter-broker handlers.
  std::atomic<cluster::Controller*> open_controller_{nullptr};
  // The coordinator once it exists, for the partitions' leadership notices.
  std::atomic<coordinator::GroupCoordinator*> open_coordinator_{nullptr};
  // When the Tick next applies retention to the hosted partitions.
  int64_t next_retention_ms_ = 0;
  int64_t next_leader_balance_ms_ = 0;
  std::unique_ptr<rpc::ControllerClient> controller_client_;
  std::unique_ptr<cluster::TopicsFrontend> topics_frontend_;
  std::unique_ptr<cluster::ProducerIdAllocator> producer_ids_;
  std::unique_ptr<rpc::TransportService> transport_service_;
  std::unique_ptr<rpc::ControllerService> controller_service_;
  std::unique_ptr<grpc::Server> inter_broker_server_;
  // Membership, touched by the tick and by controller replies.
  mutable absl::Mutex membership_mu_;
  std::string incarnation_id_;
  int64_t broker_epoch_ ABSL_GUARDED_BY(membership_mu_) = 0;
  bool fenced_ ABSL_GUARDED_BY(membership_mu_) = true;
  bool membership_call_ ABSL_GUARDED_BY(membership_mu_) = false;
  int64_t next_membership_ms_ ABSL_GUARDED_BY(membership_mu_) = 0;
  bool offsets_topic_call_ ABSL_GUARDED_BY(membership_mu_) = false;
  // When registration was first refused as a duplicate (0: it was not).
  int64_t duplicate_since_ms_ ABSL_GUARDED_BY(membership_mu_) = 0;
  absl::Status fatal_ ABSL_GUARDED_BY(membership_mu_);
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
  // One per client listener, in the config's order; the first is the one --listen names.
  struct Listener {
    ClientListener config;
    std::unique_ptr<net::ConnectionGate> gate;
    std::string advertised_host;
    int advertised_port = 0;
  };
  std::vector<Listener> listeners_;
  // The Kafka wire-protocol listeners (docs/kafka.md) and what their handlers share.
  struct KafkaEndpoint {
    std::unique_ptr<kafka::KafkaListener> listener;
    std::string advertised_host;
    int advertised_port = 0;
    std::string bound_address;
  };
  kafka::KafkaContext kafka_context_;
  // Bytes of Kafka requests read and not yet answered, across every Kafka connection.
  std::unique_ptr<base::ByteBudget> kafka_inflight_;
  // One thread for the Kafka handlers' calls that wait (DeleteRecords), off the io threads.
  std::unique_ptr<asio::thread_pool> kafka_blocking_;
  std::vector<KafkaEndpoint> kafka_listeners_;
  // The client listener of each connection gRPC serves, by the descriptor gRPC holds.
  absl::Mutex listener_by_fd_mu_;
  std::map<int, std::string> listener_by_fd_ ABSL_GUARDED_BY(listener_by_fd_mu_);
  std::unique_ptr<server::HttpServer> http_;
  // Gives freed heap back to the kernel when the broker has been idle (ReleaseMemoryWhenIdle).
  std::unique_ptr<asio::steady_timer> release_timer_;
  // Drives the controller, membership and the coordinator's start (Tick).
  std::unique_ptr<asio::steady_timer> tick_timer_;
  uint64_t calls_at_last_release_ = 0;
  std::atomic<bool> ready_{false};
  std::string cluster_id_;
  std::string grpc_address_;
  std::string admin_address_;
  bool stopped_ = false;
};

}  // namespace rill::broker
