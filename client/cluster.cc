#include "client/cluster.h"

#include <chrono>
#include <set>

#include "api/error.h"
#include "base/fmt_absl.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace rill {

ErrorCode ErrorCodeOf(const absl::Status& status) {
  if (status.ok()) return ErrorCode::kNone;
  if (!status.GetPayload("rill.v1.ErrorCode")) return ErrorCode::kNone;
  return static_cast<ErrorCode>(api::ErrorCodeOf(status));
}

}  // namespace rill

namespace rill::client {
namespace {
// Responses carry up to fetch.max.bytes of records.
constexpr int kMaxReceiveBytes = 128 << 20;
}  // namespace

absl::Status FromGrpc(const grpc::Status& status, const std::string& address) {
  if (status.ok()) return absl::OkStatus();
  std::string message = fmt::format("broker {}: {}", address, status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(message);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(message);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

Cluster::Cluster(const ClientOptions& options, std::vector<std::string> bootstrap)
    : options_(options), bootstrap_(std::move(bootstrap)) {}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(const ClientOptions& options) {
  std::vector<std::string> bootstrap;
  std::string_view rest = options.bootstrap_brokers;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view address = rest.substr(0, comma);
    if (!address.empty()) bootstrap.emplace_back(address);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
  }
  if (bootstrap.empty()) return absl::InvalidArgumentError("no bootstrap brokers given");
  for (const auto& address : bootstrap) {
    if (address.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("broker address '{}' is not HOST:PORT", address));
    }
  }
  if (options.request_timeout_ms <= 0) {
    return absl::InvalidArgumentError("request timeout must be positive");
  }
  return std::unique_ptr<Cluster>(new Cluster(options, std::move(bootstrap)));
}

std::unique_ptr<grpc::ClientContext> Cluster::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(options_.request_timeout_ms));
  return context;
}

std::shared_ptr<grpc::Channel> Cluster::Channel(const std::string& address) {
  auto& channel = channels_[address];
  if (!channel) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    args.SetMaxSendMessageSize(kMaxReceiveBytes);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return channel;
}

std::string Cluster::AnyAddressLocked() const {
  if (!last_answered_.empty()) return last_answered_;
  return brokers_.empty() ? bootstrap_.front() : brokers_.begin()->second;
}

v1::Rill::Stub* Cluster::RillStub(int32_t node, std::string* address) {
  absl::MutexLock lock(&mu_);
  auto it = brokers_.find(node);
  *address = it != brokers_.end() ? it->second : AnyAddressLocked();
  auto& stub = rill_stubs_[*address];
  if (!stub) stub = v1::Rill::NewStub(Channel(*address));
  return stub.get();
}

v1::Admin::Stub* Cluster::AdminStub(std::string* address) {
  absl::MutexLock lock(&mu_);
  *address = AnyAddressLocked();
  auto& stub = admin_stubs_[*address];
  if (!stub) stub = v1::Admin::NewStub(Channel(*address));
  return stub.get();
}

v1::Admin::Stub* Cluster::AdminStubOf(int32_t node, std::string* address) {
  absl::MutexLock lock(&mu_);
  auto it = brokers_.find(node);
  *address = it != brokers_.end() ? it->second : AnyAddressLocked();
  auto& stub = admin_stubs_[*address];
  if (!stub) stub = v1::Admin::NewStub(Channel(*address));
  return stub.get();
}

v1::Groups::Stub* Cluster::GroupsStub(const std::string& group_id, std::string* address) {
  {
    absl::MutexLock lock(&mu_);
    *address = AnyAddressLocked();
    if (auto known = coordinators_.find(group_id); known != coordinators_.end()) {
      if (auto broker = brokers_.find(known->second); broker != brokers_.end()) {
        *address = broker->second;
      }
    }
  }
  return GroupsStubAt(*address);
}

v1::Groups::Stub* Cluster::GroupsStubAt(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = group_stubs_[address];
  if (!stub) stub = v1::Groups::NewStub(Channel(address));
  return stub.get();
}

bool Cluster::NoteCoordinator(const std::string& group_id, const absl::Status& error) {
  if (api::ErrorCodeOf(error) != v1::NOT_COORDINATOR) return false;
  const int32_t hint = api::LeaderHintOf(error);
  if (hint <= 0) return false;
  bool known;
  {
    absl::MutexLock lock(&mu_);
    known = brokers_.contains(hint);
  }
  // A broker this client has not heard of yet: the cluster's metadata names it.
  if (!known && !FetchMetadata({}).ok()) return false;
  absl::MutexLock lock(&mu_);
  if (!brokers_.contains(hint)) return false;
  coordinators_[group_id] = hint;
  return true;
}

absl::StatusOr<v1::MetadataResponse> Cluster::FetchMetadata(
    const std::vector<std::string>& topics) {
  v1::MetadataRequest request;
  for (const auto& topic : topics) request.add_topics(topic);
  absl::Status last;
  // Every broker known is asked in turn, the one that answered last first: a dead or stalled
  // one in front of the list would cost every lookup a timeout, and the bootstrap brokers may
  // all be gone while others serve.
  std::vector<std::string> candidates;
  {
    absl::MutexLock lock(&mu_);
    if (!last_answered_.empty()) candidates.push_back(last_answered_);
    for (const auto& address : bootstrap_) candidates.push_back(address);
    for (const auto& [id, address] : brokers_) candidates.push_back(address);
  }
  std::set<std::string> asked;
  for (const std::string& address : candidates) {
    if (!asked.insert(address).second) continue;
    v1::Rill::Stub* stub;
    {
      absl::MutexLock lock(&mu_);
      auto& owned = rill_stubs_[address];
      if (!owned) owned = v1::Rill::NewStub(Channel(address));
      stub = owned.get();
    }
    v1::MetadataResponse response;
    auto context = NewContext();
    grpc::Status status = stub->Metadata(context.get(), request, &response);
    if (!status.ok()) {
      last = FromGrpc(status, address);
      continue;
    }
    absl::MutexLock lock(&mu_);
    last_answered_ = address;
    for (const auto& broker : response.brokers()) {
      brokers_[broker.node_id()] = fmt::format("{}:{}", broker.host(), broker.port());
    }
    for (const auto& topic : response.topics()) {
      if (topic.error().code() != v1::NONE) {
        topics_.erase(topic.name());
        continue;
      }
      TopicMetadata meta;
      meta.leaders.resize(static_cast<size_t>(topic.partitions_size()), -1);
      for (const auto& p : topic.partitions()) {
        if (p.partition() >= 0 && p.partition() < topic.partitions_size()) {
          meta.leaders[static_cast<size_t>(p.partition())] = p.leader();
        }
      }
      topics_[topic.name()] = std::move(meta);
    }
    return response;
  }
  return last;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> Cluster::ListOffsets(
    const std::vector<TopicPartition>& partitions, int64_t spec) {
  // Each partition is asked of its leader; a leader that moved is looked up again, a few times.
  constexpr int kAttempts = 3;
  absl::Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::map<int32_t, v1::ListOffsetsRequest> by_leader;
    for (const auto& tp : partitions) {
      auto topic = Topic(tp.topic, /*refresh=*/attempt > 0);
      if (!topic.ok()) return topic.status();
      const int32_t leader = tp.partition >= 0 && static_cast<size_t>(tp.partition) <
                                                      topic->leaders.size()
                                 ? topic->leaders[static_cast<size_t>(tp.partition)]
                                 : -1;
      auto* p = by_leader[leader].add_partitions();
      p->set_topic(tp.topic);
      p->set_partition(tp.partition);
      p->set_timestamp(spec);
    }
    std::map<TopicPartition, int64_t> out;
    last = absl::OkStatus();
    for (const auto& [leader, request] : by_leader) {
      std::string address;
      auto* stub = RillStub(leader, &address);
      v1::ListOffsetsResponse response;
      auto context = NewContext();
      if (grpc::Status rpc = stub->ListOffsets(context.get(), request, &response); !rpc.ok()) {
        last = FromGrpc(rpc, address);
        break;
      }
      for (const auto& p : response.partitions()) {
        if (auto s = api::FromError(p.error()); !s.ok()) {
          last = s;
          break;
        }
        out[TopicPartition{p.topic(), p.partition()}] = p.offset();
      }
      if (!last.ok()) break;
    }
    if (last.ok()) return out;
    if (!api::IsRetriable(last)) return last;
  }
  return last;
}

absl::StatusOr<TopicMetadata> Cluster::Topic(const std::string& topic, bool refresh) {
  if (!refresh) {
    absl::MutexLock lock(&mu_);
    if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
  }
  auto response = FetchMetadata({topic});
  if (!response.ok()) return response.status();
  for (const auto& t : response->topics()) {
    if (t.name() == topic && t.error().code() != v1::NONE) return api::FromError(t.error());
  }
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    return api::ApiError(v1::UNKNOWN_TOPIC,
                         fmt::format("UNKNOWN_TOPIC: topic '{}' does not exist", topic));
  }
  return it->second;
}

}  // namespace rill::client
