#include "broker/broker.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/allocator.h"
#include "base/file_limits.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "api/error.h"
#include "broker/data_dir.h"
#include "cluster/topic_names.h"
#include "net/host_port.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_posix.h"

namespace rill::broker {
namespace {
constexpr int kIoThreads = 2;
constexpr auto kShutdownGrace = std::chrono::seconds(5);
constexpr auto kMemoryReleaseInterval = std::chrono::seconds(2);
// How long a client address that attacked the broker is refused.
constexpr auto kAbuserBan = std::chrono::seconds(10);
// Descriptors connections must leave free for the broker's own files.
constexpr int64_t kFilesHeadroom = 64;
// The clock of every Raft group: election timeouts are 10 to 20 ticks.
constexpr auto kTickInterval = std::chrono::milliseconds(100);
// A partition's replicas: a follower campaigns after 1 to 2 s without its leader; the leader
// heartbeats every 200 ms.
constexpr int kPartitionElectionTicks = 10;
constexpr int kPartitionHeartbeatTicks = 2;
// InitProducerId requests that may wait for the controller's next block of ids.
constexpr size_t kProducerIdWaitersMax = 10000;
// A one-broker cluster answers its first request only once it serves.
constexpr auto kSingleNodeStartWait = std::chrono::seconds(20);
constexpr int64_t kMembershipRetryMs = 300;
// Heartbeats of a broker still fenced come this often, so it serves soon after it caught up.
constexpr int64_t kFencedHeartbeatMs = 100;

// HOST:PORT, an IPv6 host in brackets.
std::string JoinHostPort(const std::string& host, int port) {
  return fmt::format("{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host, port);
}

// What to tell others of a listener bound to `host` when nothing was configured: the bound
// address, or this machine's host name for a wildcard (in a container, the name other
// containers of its network resolve).
std::string AdvertisableHost(const std::string& host) {
  if (!IsWildcardHost(host)) return host;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The admission limits of every client port, gRPC and Kafka alike: a connection that sends
// nothing is closed after the smaller of the idle time and 10 s.
net::ConnectionLimits ClientConnectionLimits(const BrokerConfig& config) {
  return net::ConnectionLimits{config.max_connections, config.max_connections_per_ip,
                               kFilesHeadroom,
                               std::min<int64_t>(config.connections_max_idle_ms, 10000)};
}

// What a listener bound at `host`:`bound_port` tells its clients: its advertised address, or
// the bound one (the machine's host name for a wildcard host).
absl::Status Advertised(const ClientListener& listener, const std::string& host, int bound_port,
                        std::string* advertised_host, int* advertised_port) {
  if (listener.advertise.empty()) {
    *advertised_host = AdvertisableHost(host);
    *advertised_port = bound_port;
    return absl::OkStatus();
  }
  return net::SplitHostPort(listener.advertise, advertised_host, advertised_port);
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// libprotobuf writes to stderr about bad input (invalid UTF-8 in a string field of a request):
// a client could fill the log with a line per request. Such lines are debug output here; the
// client gets INVALID_ARGUMENT.
void LogProtobufMessage(google::protobuf::LogLevel level, const char* file, int line,
                        const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    logging::Error("protobuf", "{}:{}: {}", file, line, message);
  } else {
    logging::Debug("protobuf", "{}:{}: {}", file, line, message);
  }
}
}  // namespace

Broker::Broker(BrokerConfig config) : config_(std::move(config)) {
  context_.settings = server::ServerSettings{config_.node_id,
                                             config_.auto_create_topics,
                                             config_.default_partitions,
                                             config_.default_replication_factor,
                                             config_.max_fetch_bytes,
                                             config_.max_fetch_wait_ms};
}

Broker::~Broker() { Stop(); }

absl::Status Broker::Start() {
  const BrokerConfig& config = config_;
  logging::Level level;
  if (!logging::ParseLevel(config.log_level, &level)) {
    return absl::InvalidArgumentError(fmt::format("unknown log level '{}'", config.log_level));
  }
  logging::SetLevel(level);
  google::protobuf::SetLogHandler(&LogProtobufMessage);

  // Descriptors are budgeted (partitions), so the broker takes all the system allows; a
  // quarter of them, up to 1,024, stay free for connections and the metadata store.
  auto file_limit = base::RaiseOpenFileLimit();
  if (!file_limit.ok()) return file_limit.status();

  // The ports first: a broker that cannot have them (another process listens there) fails
  // before it writes anything. They accept once everything behind them is ready.
  if (auto s = BindPorts(); !s.ok()) {
    Stop();
    return s;
  }
  std::error_code ec;
  const bool data_dir_existed = std::filesystem::exists(config.data_dir, ec);
  if (auto s = OpenAndServe(std::min<int64_t>(1024, *file_limit / 4)); !s.ok()) {
    Stop();
    // What a failed first start created is removed, so that the next one starts clean;
    // a data directory that was there before is never touched.
    if (!data_dir_existed) std::filesystem::remove_all(config.data_dir, ec);
    return s;
  }
  logging::Info("broker",
                "rill-broker node={} cluster={} listening grpc={} admin={} inter_broker={} "
                "kafka={} listeners={} data={} topics={} offline_partitions={} "
                "open_files_limit={}",
                config.node_id, cluster_id_, grpc_address_, admin_address_,
                inter_broker_address_,
                kafka_listeners_.empty() ? std::string("none") : kafka_listeners_.front().bound_address,
                ListenerSummary(), config.data_dir, topics_->List().size(),
                topics_->Offline().size(), *file_limit);
  return absl::OkStatus();
}

absl::Status Broker::OpenAndServe(int64_t files_reserved) {
  const BrokerConfig& config = config_;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create data directory {}: {}", config.data_dir, ec.message()));
  }
  auto identity = LoadOrFormatDataDir(config.data_dir, config.node_id, config.cluster_id);
  if (!identity.ok()) return identity.status();
  cluster_id_ = identity->cluster_id;
  if (identity->formatted) {
    logging::Info("broker", "formatted data directory {} for cluster {} node {}", config.data_dir,
                  cluster_id_, config.node_id);
  }
  auto meta = storage::MetaStore::Open(config.data_dir + "/meta");
  if (!meta.ok()) return meta.status();
  meta_ = std::move(*meta);
  storage::LogManagerOptions log_options;
  log_options.data_dir = config.data_dir + "/logs";
  log_options.retention_check_interval_ms = config.retention_check_interval_ms;
  auto logs = storage::LogManager::Open(log_options);
  if (!logs.ok()) return logs.status();
  logs_ = std::move(*logs);
  // Partitions are Raft groups from the moment they open, so the transport comes first.
  transport_ = std::make_unique<rpc::Transport>(
      rpc::TransportOptions{cluster_id_, NodeId(config.node_id)});
  cluster::ReplicaContext replication;
  replication.self = NodeId(config.node_id);
  replication.meta = meta_.get();
  replication.transport = transport_.get();
  replication.io = &io_;
  replication.raft.seed = static_cast<uint64_t>(config.node_id);
  replication.raft.election_ticks = kPartitionElectionTicks;
  replication.raft.heartbeat_ticks = kPartitionHeartbeatTicks;
  replication.producer_id_expiration_ms = config.producer_id_expiration_ms;
  replication.producers.limits.producers_max =
      static_cast<size_t>(config.producers_per_partition_max);
  replication.move_done = [this](TopicId topic_id, PartitionId partition,
                                 std::vector<NodeId> voters) {
    ReportMoveDone(topic_id, partition, std::move(voters));
  };
  topics_ = std::make_unique<cluster::TopicRegistry>(
      meta_.get(), logs_.get(), config.log, cluster::TopicLimits{files_reserved},
      std::move(replication),
      [this](const std::shared_ptr<cluster::Partition>& partition, bool serving) {
        if (auto* coordinator = open_coordinator_.load()) {
          coordinator->OnLeadership(partition, serving);
        }
      });
  if (auto s = topics_->Load(); !s.ok()) return s;
  metrics_ = std::make_unique<server::BrokerMetrics>();
  if (auto s = StartInterBroker(); !s.ok()) return s;

  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  for (int i = 0; i < kIoThreads; ++i) io_threads_.emplace_back([this] { io_.run(); });
  fetch_budget_ = std::make_unique<base::ByteBudget>(config.max_fetch_inflight_bytes);
  context_.fetch_budget = fetch_budget_.get();
  context_.topics = topics_.get();
  context_.metrics = metrics_.get();
  context_.io = &io_;
  if (auto s = OpenController(); !s.ok()) return s;
  context_.controller = controller_.get();
  context_.topics_frontend = topics_frontend_.get();
  producer_ids_ = std::make_unique<cluster::ProducerIdAllocator>(
      [this](rpc::Reply<rpc::ProducerIdRange> reply) {
        int64_t epoch;
        {
          absl::MutexLock lock(&membership_mu_);
          epoch = broker_epoch_;
        }
        if (epoch == 0) {
          reply(api::ApiError(v1::REQUEST_TIMED_OUT,
                              "the broker has not joined the cluster yet; retry"));
          return;
        }
        controller_client_->AllocateProducerIds(
            rpc::AllocateProducerIdsRequest{NodeId(config_.node_id), epoch}, std::move(reply));
      },
      kProducerIdWaitersMax);
  context_.producer_ids = producer_ids_.get();
  coordinator::CoordinatorOptions coordinator_options;
  coordinator_options.limits.session_timeout_ms = config.group_session_timeout_ms;
  coordinator_options.limits.heartbeat_interval_ms = config.group_heartbeat_interval_ms;
  coordinator_options.limits.max_members = static_cast<size_t>(config.group_max_size);
  coordinator_options.limits.default_assignor = config.group_assignor;
  coordinator_options.limits.offsets_retention_ms = config.offsets_retention_ms;
  coordinator_options.limits.classic.initial_rebalance_delay_ms =
      config.group_initial_rebalance_delay_ms;
  coordinator_options.limits.classic.min_session_timeout_ms = config.group_min_session_timeout_ms;
  coordinator_options.limits.classic.max_session_timeout_ms = config.group_max_session_timeout_ms;
  coordinator_options.limits.classic.max_members = static_cast<size_t>(config.group_max_size);
  coordinator_options.offsets_topic_partitions = config.offsets_topic_partitions;
  coordinator_ = std::make_unique<coordinator::GroupCoordinator>(std::move(coordinator_options),
                                                                 topics_.get(), &io_);
  open_coordinator_.store(coordinator_.get());
  kafka_context_.settings = kafka::KafkaSettings{
      config.node_id,          cluster_id_,           config.auto_create_topics,
      config.default_partitions, config.default_replication_factor, config.max_fetch_bytes,
      config.max_fetch_wait_ms};
  kafka_context_.topics = topics_.get();
  kafka_context_.topics_frontend = topics_frontend_.get();
  kafka_context_.producer_ids = producer_ids_.get();
  kafka_context_.controller = controller_.get();
  kafka_context_.coordinator = coordinator_.get();
  kafka_context_.fetch_budget = fetch_budget_.get();
  if (auto s = StartServing(); !s.ok()) return s;
  release_timer_ = std::make_unique<asio::steady_timer>(io_);
  ReleaseMemoryWhenIdle();
  tick_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::post(io_, [this] { Tick(); });
  ready_ = true;
  if (voters_.size() == 1 && voters_.contains(NodeId(config.node_id))) {
    // Alone in its quorum it needs nobody to start serving: Start returns once it does, as a
    // broker did before it belonged to a cluster.
    const auto deadline = std::chrono::steady_clock::now() + kSingleNodeStartWait;
    while (!Serving() && fatal_error().ok() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!fatal_error().ok()) return fatal_error();
    if (!Serving()) {
      logging::Warn("broker", "not serving yet after {} s: registering with the controller",
                    kSingleNodeStartWait.count());
    }
  }
  return absl::OkStatus();
}

absl::Status Broker::StartInterBroker() {
  const BrokerConfig& config = config_;
  std::string host;
  int port = 0;
  if (auto s = net::SplitHostPort(config.inter_broker_listen, &host, &port); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("inter.broker.listen: {}", s.message()));
  }
  auto known_node = [this](NodeId node) {
    if (voters_.contains(node)) return true;
    cluster::Controller* controller = open_controller_.load();
    return controller != nullptr && controller->image()->Broker(node) != nullptr;
  };
  rpc::TransportServiceOptions transport_options;
  transport_options.cluster_id = cluster_id_;
  transport_options.self = NodeId(config.node_id);
  transport_options.known_node = known_node;
  transport_service_ = std::make_unique<rpc::TransportService>(
      transport_options, static_cast<rpc::MessageHandler*>(this));
  controller_service_ = std::make_unique<rpc::ControllerService>(
      rpc::ControllerServiceOptions{cluster_id_}, static_cast<rpc::ControllerHandler*>(this));
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config.inter_broker_listen, grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(transport_service_.get());
  builder.RegisterService(controller_service_.get());
  // A request carries at most request_bytes_max of entries (rpc/transport.h) and some framing.
  builder.SetMaxReceiveMessageSize(8 << 20);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(config.connections_max_idle_ms));
  inter_broker_server_ = builder.BuildAndStart();
  if (!inter_broker_server_ || bound_port == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "cannot listen on inter.broker.listen {} (in use?)", config.inter_broker_listen));
  }
  inter_broker_address_ = JoinHostPort(host, bound_port);
  inter_broker_advertised_ = config.inter_broker_advertise.empty()
                                 ? JoinHostPort(AdvertisableHost(host), bound_port)
                                 : config.inter_broker_advertise;
  const std::string& advertised = inter_broker_advertised_;
  if (config.controller_voters.empty()) {
    voters_ = {{NodeId(config.node_id), advertised}};
  } else {
    auto voters = cluster::ParseVoters(config.controller_voters);
    if (!voters.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("controller.voters: {}", voters.status().message()));
    }
    voters_ = *voters;
  }
  return absl::OkStatus();
}

absl::Status Broker::OpenController() {
  const BrokerConfig& config = config_;
  const NodeId self(config.node_id);
  storage::LogManagerOptions log_options;
  log_options.data_dir = config.data_dir + "/metadata";
  log_options.retention_check_interval_ms = config.retention_check_interval_ms;
  auto logs = storage::LogManager::Open(log_options);
  if (!logs.ok()) return logs.status();
  metadata_logs_ = std::move(*logs);
  for (const auto& [id, address] : voters_) {
    if (id != self) transport_->SetPeer(id, address);
  }
  // 16 random bytes tell this process's registration from an earlier one's.
  incarnation_id_ = TopicId::Random().ToBytes();
  cluster::ControllerOptions options;
  options.self = self;
  options.self_incarnation_id = incarnation_id_;
  options.cluster_id = cluster_id_;
  options.voters = voters_;
  options.limits.session_timeout_ms = config.broker_session_timeout_ms;
  options.limits.max_partitions_per_topic = config.max_partitions_per_topic;
  options.limits.move_throttle_bytes_per_second = config.move_throttle_bytes_per_second;
  options.limits.drain_moves_max = config.drain_moves_max;
  options.limits.log_defaults = config.log;
  options.snapshot_interval_records = config.metadata_snapshot_interval_records;
  options.raft.seed = static_cast<uint64_t>(config.node_id);
  // The metadata log is small and compacted at each snapshot; it is never deleted by age.
  options.log.segment_bytes = 8 << 20;
  options.log.retention_ms = -1;
  options.log.retention_bytes = -1;
  for (const auto& record : topics_->LegacyTopics()) {
    options.legacy_topics.push_back(cluster::LegacyTopic{
        record.name(), *TopicId::FromBytes(record.topic_id()), record.partitions(),
        cluster::TopicConfigs(record.configs().begin(), record.configs().end())});
  }
  auto controller = cluster::Controller::Open(
      std::move(options), metadata_logs_.get(), meta_.get(), transport_.get(), &io_,
      [this, self](const std::shared_ptr<const cluster::MetadataImage>& image) {
        topics_->Reconcile(*image);
        UpdatePeers(*image);
      });
  if (!controller.ok()) return controller.status();
  controller_ = std::move(*controller);
  if (controller_->status().restored_from_snapshot) {
    topics_->Reconcile(*controller_->image());
    UpdatePeers(*controller_->image());
  }
  rpc::ControllerClientOptions client_options;
  client_options.cluster_id = cluster_id_;
  client_options.voters = voters_;
  controller_client_ = std::make_unique<rpc::ControllerClient>(std::move(client_options));
  topics_frontend_ =
      std::make_unique<cluster::TopicsFrontend>(controller_client_.get(), controller_.get());
  open_controller_.store(controller_.get());
  if (voters_.size() == 1 && voters_.contains(self)) controller_->Campaign();
  return absl::OkStatus();
}

void Broker::UpdatePeers(const cluster::MetadataImage& image) {
  for (const auto& [id, broker] : image.brokers()) {
    if (id == NodeId(config_.node_id) || voters_.contains(id)) continue;
    for (const auto& endpoint : broker.endpoints) {
      if (endpoint.name == cluster::kBrokerListener) {
        transport_->SetPeer(id, fmt::format("{}:{}", endpoint.host, endpoint.port));
      }
    }
  }
}

bool Broker::Deliver(const rpc::GroupKey& group, raft::Message message) {
  if (group != rpc::kControllerGroup) return topics_->Deliver(group, std::move(message));
  cluster::Controller* controller = open_controller_.load();
  if (controller == nullptr) return false;
  controller->Deliver(std::move(message));
  return true;
}

namespace {

// Hands an inter-broker request to the controller once it is open.
template <typename Request, typename T, typename Method>
void ToController(cluster::Controller* controller, Method method, const Request& request,
                  rpc::Reply<T> reply) {
  if (controller == nullptr) {
    reply(api::ApiError(v1::NOT_CONTROLLER, "the broker is starting"));
    return;
  }
  (controller->*method)(request, std::move(reply));
}

}  // namespace

void Broker::RegisterBroker(const rpc::RegisterBrokerRequest& request,
                            rpc::Reply<int64_t> reply) {
  ToController(open_controller_.load(), &cluster::Controller::RegisterBroker, request,
               std::move(reply));
}

void Broker::BrokerHeartbeat(const rpc::BrokerHeartbeatRequest& request,
                             rpc::Reply<bool> reply) {
  ToController(open_controller_.load(), &cluster::Controller::BrokerHeartbeat, request,
               std::move(reply));
}

void Broker::ChangeTopic(const rpc::TopicChangeRequest& request, rpc::Reply<Offset> reply) {
  ToController(open_controller_.load(), &cluster::Controller::ChangeTopic, request,
               std::move(reply));
}

void Broker::ReportMoveDone(TopicId topic_id, PartitionId partition, std::vector<NodeId> voters) {
  // Partitions open (and tick) before the controller client exists.
  rpc::ControllerClient* client = controller_client_.get();
  if (client == nullptr) return;
  rpc::TopicChangeRequest request;
  request.kind = rpc::TopicChangeRequest::Kind::kCompleteReassignment;
  request.topic_id = topic_id.ToBytes();
  request.partition = partition.value();
  request.replicas = std::move(voters);
  client->ChangeTopic(request, [topic_id, partition](absl::StatusOr<Offset> offset) {
    if (!offset.ok()) {
      logging::Debug("broker", "move of {}-{} not reported done: {}", topic_id, partition,
                     offset.status().message());
    }
  });
}

void Broker::AllocateProducerIds(const rpc::AllocateProducerIdsRequest& request,
                                 rpc::Reply<rpc::ProducerIdRange> reply) {
  ToController(open_controller_.load(), &cluster::Controller::AllocateProducerIds, request,
               std::move(reply));
}

void Broker::Tick() {
  if (context_.stopping) return;
  const int64_t now = SteadyMs();
  controller_->Tick(now);
  topics_->Tick();
  if (now >= next_retention_ms_) {
    next_retention_ms_ = now + config_.retention_check_interval_ms;
    topics_->EnforceRetention();
  }
  if (now >= next_leader_balance_ms_) {
    next_leader_balance_ms_ = now + config_.leader_balance_interval_ms;
    if (const int started = topics_->BalanceLeaders(config_.leader_balance_transfers_max)) {
      logging::Info("broker", "handing leadership of {} partition(s) back to preferred replicas",
                    started);
    }
  }
  RegisterOrHeartbeat(now);
  EnsureOffsetsTopic();
  tick_timer_->expires_after(kTickInterval);
  tick_timer_->async_wait([this](std::error_code ec) {
    if (!ec) Tick();
  });
}

void Broker::RegisterOrHeartbeat(int64_t now_ms) {
  const NodeId self(config_.node_id);
  int64_t epoch = 0;
  {
    absl::MutexLock lock(&membership_mu_);
    if (membership_call_ || now_ms < next_membership_ms_ || !fatal_.ok()) return;
    membership_call_ = true;
    epoch = broker_epoch_;
  }
  auto retry_at = [this](int64_t delay_ms) {
    next_membership_ms_ = SteadyMs() + delay_ms;
    membership_call_ = false;
  };
  if (epoch == 0) {
    rpc::RegisterBrokerRequest request;
    request.node = self;
    request.incarnation_id = incarnation_id_;
    request.controller_voters = cluster::CanonicalVoters(voters_);
    for (const Listener& listener : listeners_) {
      request.endpoints.push_back(rpc::ListenerEndpoint{
          listener.config.name, listener.advertised_host, listener.advertised_port});
    }
    for (const KafkaEndpoint& endpoint : kafka_listeners_) {
      request.endpoints.push_back(rpc::ListenerEndpoint{
          endpoint.listener->name(), endpoint.advertised_host, endpoint.advertised_port});
    }
    std::string host;
    int port = 0;
    (void)net::SplitHostPort(inter_broker_advertised_, &host, &port);
    request.endpoints.push_back(rpc::ListenerEndpoint{cluster::kBrokerListener, host, port});
    controller_client_->RegisterBroker(request, [this, retry_at](absl::StatusOr<int64_t> epoch) {
      absl::MutexLock lock(&membership_mu_);
      if (epoch.ok()) {
        broker_epoch_ = *epoch;
        logging::Info("broker", "registered with the controller, broker epoch {}", *epoch);
        retry_at(0);
        return;
      }
      switch (api::ErrorCodeOf(epoch.status())) {
        case v1::DUPLICATE_BROKER_REGISTRATION: {
          // A restart after a crash finds its old session still open until it times out; a
          // second live process with this node id keeps it open for good.
          const int64_t now = SteadyMs();
          if (duplicate_since_ms_ == 0) {
            duplicate_since_ms_ = now;
            logging::Warn("broker", "{}; waiting for that session to end",
                          epoch.status().message());
          }
          if (now - duplicate_since_ms_ <=
              config_.broker_session_timeout_ms + 2 * config_.broker_heartbeat_interval_ms) {
            retry_at(kMembershipRetryMs);
            return;
          }
          membership_call_ = false;
          fatal_ = epoch.status();
          asio::post(io_, [this, s = epoch.status()] { Fatal(s); });
          return;
        }
        case v1::INCONSISTENT_CLUSTER_ID:
        case v1::INCONSISTENT_VOTERS:
        case v1::INVALID_REQUEST:
          membership_call_ = false;
          fatal_ = epoch.status();
          asio::post(io_, [this, s = epoch.status()] { Fatal(s); });
          return;
        default:
          logging::Debug("broker", "registration: {}", epoch.status().message());
          retry_at(kMembershipRetryMs);
      }
    });
    return;
  }
  rpc::BrokerHeartbeatRequest request{self, epoch, controller_->image()->offset()};
  controller_client_->BrokerHeartbeat(request, [this, retry_at](absl::StatusOr<bool> fenced) {
    absl::MutexLock lock(&membership_mu_);
    if (fenced.ok()) {
      if (fenced_ != *fenced) {
        logging::Info("broker", "{} by the controller", *fenced ? "fenced" : "unfenced");
      }
      fenced_ = *fenced;
      retry_at(fenced_ ? kFencedHeartbeatMs : config_.broker_heartbeat_interval_ms);
      return;
    }
    const auto code = api::ErrorCodeOf(fenced.status());
    if (code == v1::STALE_BROKER_EPOCH || code == v1::BROKER_NOT_REGISTERED) {
      logging::Warn("broker", "registering again: {}", fenced.status().message());
      broker_epoch_ = 0;
      fenced_ = true;
      retry_at(0);
      return;
    }
    logging::Debug("broker", "heartbeat: {}", fenced.status().message());
    retry_at(kMembershipRetryMs);
  });
}

void Broker::EnsureOffsetsTopic() {
  if (coordinator_->started()) return;
  {
    absl::MutexLock lock(&membership_mu_);
    if (broker_epoch_ == 0 || fenced_ || offsets_topic_call_) return;
  }
  if (topics_->Get(cluster::kConsumerOffsetsTopic)) {
    if (auto s = coordinator_->Start(); !s.ok()) {
      logging::Error("groups", "the group coordinator did not start: {}", s.message());
    }
    return;
  }
  {
    absl::MutexLock lock(&membership_mu_);
    offsets_topic_call_ = true;
  }
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kCreate;
  change.topic = cluster::kConsumerOffsetsTopic;
  change.partitions = config_.offsets_topic_partitions;
  // Replicated on up to three brokers, as Kafka's offsets.topic.replication.factor. The
  // controller voters are the brokers a cluster is known to have from its start: until that
  // many (at most three) are alive, placement refuses and the next tick asks again.
  change.replication_factor = static_cast<int32_t>(std::min<size_t>(3, voters_.size()));
  // Offsets are kept until their group is deleted, not by age or size.
  change.configs = {{"retention.ms", "-1"}, {"retention.bytes", "-1"}};
  topics_frontend_->Change(change, [this](absl::Status s) {
    if (!s.ok() && api::ErrorCodeOf(s) != v1::TOPIC_ALREADY_EXISTS) {
      logging::Debug("groups", "creating {}: {}", cluster::kConsumerOffsetsTopic, s.message());
    }
    absl::MutexLock lock(&membership_mu_);
    offsets_topic_call_ = false;
  });
}

bool Broker::Serving() const {
  absl::MutexLock lock(&membership_mu_);
  return broker_epoch_ != 0 && !fenced_ && coordinator_ && coordinator_->started();
}

absl::Status Broker::fatal_error() const {
  absl::MutexLock lock(&membership_mu_);
  return fatal_;
}

void Broker::Fatal(absl::Status error) {
  logging::Error("broker", "the cluster refused this broker: {}", error.message());
  ::kill(::getpid(), SIGTERM);
}

absl::Status Broker::BindPorts() {
  const BrokerConfig& config = config_;
  auto listeners = ClientListeners(config);
  if (!listeners.ok()) return listeners.status();
  for (ClientListener& listener_config : *listeners) {
    std::string host;
    int port = 0;
    if (auto s = net::SplitHostPort(listener_config.listen, &host, &port); !s.ok()) return s;
    Listener listener;
    listener.config = listener_config;
    const std::string name = listener_config.name;
    // The single default listener keeps the metrics label it always had.
    const std::string label = listeners->size() == 1 && name == cluster::kClientListener
                                  ? std::string("grpc")
                                  : "grpc-" + name;
    listener.gate = std::make_unique<net::ConnectionGate>(
        io_, label,
        ClientConnectionLimits(config),
        [this, name](asio::ip::tcp::socket socket) {
          std::error_code ec;
          socket.set_option(asio::ip::tcp::no_delay(true), ec);
          auto grpc_fd = grpc_connections_->Adopt(std::move(socket));
          if (!grpc_fd.ok()) {
            logging::Warn("net", "grpc: cannot serve a connection: {}",
                          grpc_fd.status().message());
            return;
          }
          {
            absl::MutexLock lock(&listener_by_fd_mu_);
            listener_by_fd_[*grpc_fd] = name;
          }
          grpc::AddInsecureChannelFromFd(server_.get(), *grpc_fd);
        });
    auto bound = listener.gate->Bind(listener_config.listen);
    if (!bound.ok()) return bound.status();
    const std::string bound_address = JoinHostPort(host, *bound);
    if (listeners_.empty()) grpc_address_ = bound_address;
    if (auto s = Advertised(listener_config, host, *bound, &listener.advertised_host,
                            &listener.advertised_port);
        !s.ok()) {
      return s;
    }
    context_.advertised[name] = {listener.advertised_host, listener.advertised_port};
    listeners_.push_back(std::move(listener));
  }
  context_.default_listener = listeners_.front().config.name;
  context_.listener_of = [this](const std::string& peer) {
    // gRPC names a connection it was handed after its descriptor: "fd:N".
    if (peer.rfind("fd:", 0) == 0) {
      absl::MutexLock lock(&listener_by_fd_mu_);
      if (auto it = listener_by_fd_.find(std::atoi(peer.c_str() + 3));
          it != listener_by_fd_.end()) {
        return it->second;
      }
    }
    return listeners_.front().config.name;
  };
  if (auto s = BindKafkaPorts(); !s.ok()) return s;
  http_ = std::make_unique<server::HttpServer>(io_, AdminHandlers());
  auto admin_port = http_->Bind(config.admin_listen);
  if (!admin_port.ok()) return admin_port.status();
  std::string admin_host;
  int unused = 0;
  (void)net::SplitHostPort(config.admin_listen, &admin_host, &unused);
  admin_address_ = fmt::format("{}:{}", admin_host, *admin_port);
  return absl::OkStatus();
}

absl::Status Broker::BindKafkaPorts() {
  const BrokerConfig& config = config_;
  auto listeners = KafkaListeners(config);
  if (!listeners.ok()) return listeners.status();
  kafka_inflight_ = std::make_unique<base::ByteBudget>(config.max_inflight_request_bytes);
  kafka_context_.io = &io_;
  kafka_blocking_ = std::make_unique<asio::thread_pool>(1);
  kafka_context_.blocking = kafka_blocking_.get();
  kafka_context_.stopping = &context_.stopping;
  kafka_context_.serving = [this] { return Serving(); };
  const kafka::ConnectionSettings settings{config.max_request_bytes,
                                           config.kafka_max_initial_request_bytes,
                                           config.kafka_max_inflight_requests_per_connection,
                                           config.max_request_entries,
                                           config.connections_max_idle_ms};
  for (const ClientListener& listener_config : *listeners) {
    std::string host;
    int port = 0;
    if (auto s = net::SplitHostPort(listener_config.listen, &host, &port); !s.ok()) return s;
    KafkaEndpoint endpoint;
    endpoint.listener = std::make_unique<kafka::KafkaListener>(
        listener_config.name,
        ClientConnectionLimits(config),
        settings, &kafka_context_, kafka_inflight_.get());
    auto bound = endpoint.listener->Bind(listener_config.listen);
    if (!bound.ok()) return bound.status();
    endpoint.bound_address = JoinHostPort(host, *bound);
    if (auto s = Advertised(listener_config, host, *bound, &endpoint.advertised_host,
                            &endpoint.advertised_port);
        !s.ok()) {
      return s;
    }
    kafka_context_.advertised[listener_config.name] = {endpoint.advertised_host,
                                                       endpoint.advertised_port};
    kafka_listeners_.push_back(std::move(endpoint));
  }
  return absl::OkStatus();
}

std::map<std::string, server::HttpServer::Handler> Broker::AdminHandlers() {
  // They run once the port accepts, when everything they read exists.
  std::map<std::string, server::HttpServer::Handler> handlers;
  handlers["/metrics"] = [this] {
    return server::HttpResponse{
        200, "text/plain; version=0.0.4; charset=utf-8",
        metrics_->Render(*topics_, logs_->flusher(), coordinator_->Metrics(), ListenerStats())};
  };
  handlers["/healthz"] = [] { return server::HttpResponse{200, "text/plain", "ok\n"}; };
  handlers["/readyz"] = [this] {
    if (!ready_) return server::HttpResponse{503, "text/plain", "not ready\n"};
    if (!Serving()) {
      return server::HttpResponse{503, "text/plain",
                                  "not ready: joining the cluster (registering with the "
                                  "controller and catching up with the metadata log)\n"};
    }
    bool accepting = true;
    for (const auto& [name, stats] : ListenerStats()) accepting &= stats.accepting;
    if (!accepting) {
      return server::HttpResponse{503, "text/plain",
                                  "not ready: cannot accept connections (out of file "
                                  "descriptors)\n"};
    }
    return server::HttpResponse{200, "text/plain", "ready\n"};
  };
  return handlers;
}

absl::Status Broker::StartServing() {
  const BrokerConfig& config = config_;
  rill_service_ = std::make_unique<server::RillService>(&context_);
  admin_service_ = std::make_unique<server::AdminService>(&context_);
  group_service_ = std::make_unique<server::GroupService>(&context_, coordinator_.get());
  dispatcher_ = std::make_unique<server::RpcDispatcher>(
      server::RpcLimits{config.max_request_entries, config.max_inflight_request_bytes},
      metrics_.get(), [this](const std::string& peer) {
        // gRPC names a connection it was handed after its descriptor: "fd:N".
        if (peer.rfind("fd:", 0) != 0) return;
        const int fd = grpc_connections_->ClientFd(std::atoi(peer.c_str() + 3));
        for (Listener& listener : listeners_) {
          listener.gate->Disconnect(fd,
                                    "calls cancelled before their request (HTTP/2 rapid reset)",
                                    kAbuserBan);
        }
      });
  rill_service_->Register(dispatcher_.get());
  admin_service_->Register(dispatcher_.get());
  group_service_->Register(dispatcher_.get());
  // The server has no listening port of its own: the ConnectionGate accepts, admits and hands
  // each connection's descriptor over.
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(dispatcher_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_request_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_fetch_bytes + (1 << 20)));
  // Transport buffers of every connection together; past it gRPC reclaims memory by closing the
  // connections that hold the most (GOAWAY ENHANCE_YOUR_CALM "Buffers full").
  grpc::ResourceQuota quota("rill-connections");
  quota.Resize(static_cast<size_t>(config.max_connection_memory_bytes));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(config.connections_max_idle_ms));
  server_ = builder.BuildAndStart();
  if (!server_) return absl::InternalError("the gRPC server did not start");
  // gRPC would read a request whose length prefix is over the limit in full before refusing it;
  // the guard refuses it at the prefix.
  grpc_connections_ = std::make_unique<server::GuardedConnections>(
      io_,
      server::Http2GuardLimits{config.max_request_bytes,
                               static_cast<size_t>(4 * config.max_concurrent_streams + 64)},
      [this] { metrics_->RequestRefused("too_large"); });
  for (Listener& listener : listeners_) listener.gate->Start();
  for (KafkaEndpoint& endpoint : kafka_listeners_) endpoint.listener->Start();
  http_->Start();
  return absl::OkStatus();
}

std::string Broker::ListenerSummary() const {
  std::string out;
  for (const Listener& listener : listeners_) {
    out += fmt::format("{}{}://{}:{}", out.empty() ? "" : ",", listener.config.name,
                       listener.advertised_host, listener.advertised_port);
  }
  return out;
}

std::map<std::string, net::ConnectionStats> Broker::ListenerStats() const {
  std::map<std::string, net::ConnectionStats> stats;
  for (const Listener& listener : listeners_) {
    stats[listeners_.size() == 1 && listener.config.name == cluster::kClientListener
              ? std::string("grpc")
              : "grpc-" + listener.config.name] = listener.gate->Stats();
  }
  for (const KafkaEndpoint& endpoint : kafka_listeners_) {
    stats["kafka-" + endpoint.listener->name()] = endpoint.listener->Stats();
  }
  stats["admin"] = http_->Stats();
  return stats;
}

void Broker::ReleaseMemoryWhenIdle() {
  // Busy brokers keep freed buffers for the next request (base/allocator.h); once calls have
  // come and gone and none is under way, what they used goes back to the kernel.
  const uint64_t calls = dispatcher_->calls();
  if (calls != calls_at_last_release_ && dispatcher_->inflight().held() == 0 &&
      fetch_budget_->held() == 0) {
    calls_at_last_release_ = calls;
    base::ReleaseFreeMemory();
  }
  if (context_.stopping) return;
  release_timer_->expires_after(kMemoryReleaseInterval);
  release_timer_->async_wait([this](std::error_code ec) {
    if (!ec) ReleaseMemoryWhenIdle();
  });
}

void Broker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  ready_ = false;
  context_.stopping = true;
  if (topics_) {
    // Long-polling fetches answer now rather than at their deadline.
    for (const auto& partition : topics_->AllPartitions()) partition->WakeAll();
  }
  for (Listener& listener : listeners_) listener.gate->Stop();
  for (KafkaEndpoint& endpoint : kafka_listeners_) endpoint.listener->Stop();
  {
    // A server's shutdown waits for every call to be answered, and the ticks that would
    // depose a leader cut off from its quorum have stopped: a call waiting for a commit that
    // cannot come (the other brokers are gone) is failed once the grace is over, by closing
    // the Raft groups it waits on.
    absl::Notification servers_stopped;
    std::thread fail_waiting([this, &servers_stopped] {
      if (servers_stopped.WaitForNotificationWithTimeout(absl::FromChrono(kShutdownGrace))) {
        return;
      }
      logging::Info("broker", "failing the requests still waiting after {} s of shutdown",
                    std::chrono::seconds(kShutdownGrace).count());
      if (controller_) controller_->Close();
      if (topics_) {
        for (const auto& partition : topics_->AllPartitions()) partition->Close();
      }
    });
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    if (inter_broker_server_) {
      inter_broker_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    }
    servers_stopped.Notify();
    fail_waiting.join();
  }
  if (grpc_connections_) grpc_connections_->CloseAll();
  if (http_) http_->Stop();
  // Before the io threads go: their timers run on them.
  if (coordinator_) coordinator_->Stop();
  if (release_timer_) release_timer_->cancel();
  if (tick_timer_) asio::post(io_, [this] { tick_timer_->cancel(); });
  open_controller_.store(nullptr);
  open_coordinator_.store(nullptr);
  // Before the io threads go: the Raft groups finish their work on them.
  if (controller_) controller_->Close();
  if (topics_) {
    for (const auto& partition : topics_->AllPartitions()) partition->Close();
  }
  // Its waits end with the partitions closed; their answers go out on the io threads.
  if (kafka_blocking_) kafka_blocking_->join();
  work_.reset();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  server_.reset();
  inter_broker_server_.reset();
  controller_client_.reset();
  transport_.reset();
  if (metadata_logs_) {
    if (auto s = metadata_logs_->Close(); !s.ok()) {
      logging::Error("broker", "closing the metadata log: {}", s.message());
    }
  }
  if (logs_) {
    if (auto s = logs_->Close(); !s.ok()) {
      logging::Error("broker", "closing logs: {}", s.message());
    }
  }
  topics_.reset();
  controller_.reset();
  metadata_logs_.reset();
  logs_.reset();
  meta_.reset();
  logging::Info("broker", "rill-broker stopped");
}

}  // namespace rill::broker
