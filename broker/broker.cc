#include "broker/broker.h"

#include <filesystem>

#include "base/allocator.h"
#include "base/file_limits.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "broker/data_dir.h"
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
                "rill-broker node={} cluster={} listening grpc={} admin={} data={} topics={} "
                "offline_partitions={} open_files_limit={}",
                config.node_id, cluster_id_, grpc_address_, admin_address_, config.data_dir,
                topics_->List().size(), topics_->Offline().size(), *file_limit);
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
  topics_ = std::make_unique<cluster::TopicRegistry>(
      meta_.get(), logs_.get(), config.log,
      cluster::TopicLimits{config.max_partitions_per_topic, /*max_replication_factor=*/1,
                           files_reserved});
  if (auto s = topics_->Load(); !s.ok()) return s;
  metrics_ = std::make_unique<server::BrokerMetrics>();

  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  for (int i = 0; i < kIoThreads; ++i) io_threads_.emplace_back([this] { io_.run(); });
  fetch_budget_ = std::make_unique<base::ByteBudget>(config.max_fetch_inflight_bytes);
  context_.fetch_budget = fetch_budget_.get();
  context_.topics = topics_.get();
  context_.metrics = metrics_.get();
  context_.io = &io_;
  coordinator::CoordinatorOptions coordinator_options;
  coordinator_options.limits.session_timeout_ms = config.group_session_timeout_ms;
  coordinator_options.limits.heartbeat_interval_ms = config.group_heartbeat_interval_ms;
  coordinator_options.limits.max_members = static_cast<size_t>(config.group_max_size);
  coordinator_options.limits.default_assignor = config.group_assignor;
  coordinator_options.limits.offsets_retention_ms = config.offsets_retention_ms;
  coordinator_options.offsets_topic_partitions = config.offsets_topic_partitions;
  coordinator_ = std::make_unique<coordinator::GroupCoordinator>(std::move(coordinator_options),
                                                                 topics_.get(), &io_);
  if (auto s = coordinator_->Start(); !s.ok()) return s;
  if (auto s = StartServing(); !s.ok()) return s;
  release_timer_ = std::make_unique<asio::steady_timer>(io_);
  ReleaseMemoryWhenIdle();
  ready_ = true;
  return absl::OkStatus();
}

absl::Status Broker::BindPorts() {
  const BrokerConfig& config = config_;
  std::string host;
  int port = 0;
  if (auto s = server::SplitHostPort(config.listen, &host, &port); !s.ok()) return s;
  grpc_gate_ = std::make_unique<server::ConnectionGate>(
      io_, "grpc",
      server::ConnectionLimits{config.max_connections, config.max_connections_per_ip,
                               kFilesHeadroom,
                               std::min<int64_t>(config.connections_max_idle_ms, 10000)},
      [this](asio::ip::tcp::socket socket) {
        std::error_code ec;
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        auto grpc_fd = grpc_connections_->Adopt(std::move(socket));
        if (!grpc_fd.ok()) {
          logging::Warn("net", "grpc: cannot serve a connection: {}", grpc_fd.status().message());
          return;
        }
        grpc::AddInsecureChannelFromFd(server_.get(), *grpc_fd);
      });
  auto bound = grpc_gate_->Bind(config.listen);
  if (!bound.ok()) return bound.status();
  const int bound_port = *bound;
  grpc_address_ = fmt::format(
      "{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host, bound_port);
  if (config.advertise.empty()) {
    context_.advertised_host = host;
    context_.advertised_port = bound_port;
  } else if (auto s = server::SplitHostPort(config.advertise, &context_.advertised_host,
                                            &context_.advertised_port);
             !s.ok()) {
    return s;
  }
  http_ = std::make_unique<server::HttpServer>(io_, AdminHandlers());
  auto admin_port = http_->Bind(config.admin_listen);
  if (!admin_port.ok()) return admin_port.status();
  std::string admin_host;
  int unused = 0;
  (void)server::SplitHostPort(config.admin_listen, &admin_host, &unused);
  admin_address_ = fmt::format("{}:{}", admin_host, *admin_port);
  return absl::OkStatus();
}

std::map<std::string, server::HttpServer::Handler> Broker::AdminHandlers() {
  // They run once the port accepts, when everything they read exists.
  std::map<std::string, server::HttpServer::Handler> handlers;
  handlers["/metrics"] = [this] {
    return server::HttpResponse{
        200, "text/plain; version=0.0.4; charset=utf-8",
        metrics_->Render(*topics_, logs_->flusher(), coordinator_->Metrics(),
                         {{"grpc", grpc_gate_->Stats()}, {"admin", http_->Stats()}})};
  };
  handlers["/healthz"] = [] { return server::HttpResponse{200, "text/plain", "ok\n"}; };
  handlers["/readyz"] = [this] {
    if (!ready_) return server::HttpResponse{503, "text/plain", "not ready\n"};
    if (!grpc_gate_->Stats().accepting) {
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
        grpc_gate_->Disconnect(grpc_connections_->ClientFd(std::atoi(peer.c_str() + 3)),
                               "calls cancelled before their request (HTTP/2 rapid reset)",
                               kAbuserBan);
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
  grpc_gate_->Start();
  http_->Start();
  return absl::OkStatus();
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
  if (grpc_gate_) grpc_gate_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  if (grpc_connections_) grpc_connections_->CloseAll();
  if (http_) http_->Stop();
  // Before the io threads go: their timers run on them.
  if (coordinator_) coordinator_->Stop();
  if (release_timer_) release_timer_->cancel();
  work_.reset();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  server_.reset();
  if (logs_) {
    if (auto s = logs_->Close(); !s.ok()) {
      logging::Error("broker", "closing logs: {}", s.message());
    }
  }
  topics_.reset();
  logs_.reset();
  meta_.reset();
  logging::Info("broker", "rill-broker stopped");
}

}  // namespace rill::broker
