#include "rpc/transport.h"

#include <chrono>
#include <utility>

#include "base/logging.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace rill::rpc {
namespace {

// What a queued message counts toward the byte bounds: its entries and snapshot, plus a
// little for the fields around them.
size_t MessageBytes(const raft::Message& m) {
  size_t bytes = 64 + m.context.size() + m.snapshot.data.size();
  for (const raft::Entry& e : m.entries) bytes += 32 + e.data.size();
  return bytes;
}

}  // namespace

struct Transport::Peer {
  NodeId id;
  std::string address;
  // A new generation per address, so a call to an old address does not touch the new one.
  uint64_t generation = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<internal::v1::BrokerTransport::Stub> stub;
  std::deque<std::pair<GroupKey, raft::Message>> queue;
  size_t queued_bytes = 0;
  bool in_flight = false;
  absl::Time retry_at = absl::InfinitePast();
  PeerStats stats;
};

struct Transport::Call {
  // Held so the channel outlives the call even if the peer is replaced meanwhile.
  std::shared_ptr<grpc::Channel> channel;
  grpc::ClientContext context;
  internal::v1::ExchangeRequest request;
  internal::v1::ExchangeResponse response;
};

Transport::Transport(TransportOptions options) : options_(std::move(options)) {}

Transport::~Transport() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (auto& [id, peer] : peers_) peer->queue.clear();
  // Each call in flight ends within its deadline (channels are not shut down under it).
  mu_.Await(absl::Condition(
      +[](int* calls) { return *calls == 0; }, &calls_in_flight_));
}

void Transport::SetPeer(NodeId node, const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& peer = peers_[node];
  if (peer && peer->address == address) return;
  auto fresh = std::make_unique<Peer>();
  fresh->id = node;
  fresh->address = address;
  fresh->generation = next_generation_++;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(static_cast<int>(options_.request_bytes_max + (1 << 20)));
  fresh->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  fresh->stub = internal::v1::BrokerTransport::NewStub(fresh->channel);
  if (peer) fresh->stats = peer->stats;
  peer = std::move(fresh);
}

void Transport::RemovePeer(NodeId node) {
  absl::MutexLock lock(&mu_);
  peers_.erase(node);
}

void Transport::Send(const GroupKey& group, raft::Message message) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  auto it = peers_.find(message.to);
  if (it == peers_.end()) {
    ++dropped_unknown_;
    return;
  }
  Peer& peer = *it->second;
  const size_t bytes = MessageBytes(message);
  if (peer.queue.size() >= options_.queue_messages_max ||
      peer.queued_bytes + bytes > options_.queue_bytes_max) {
    ++peer.stats.messages_dropped;
    return;
  }
  peer.queued_bytes += bytes;
  peer.queue.emplace_back(group, std::move(message));
  MaybeStartLocked(&peer);
}

void Transport::MaybeStartLocked(Peer* peer) {
  if (peer->in_flight || peer->queue.empty() || stopping_) return;
  if (absl::Now() < peer->retry_at) return;
  auto call = std::make_shared<Call>();
  call->channel = peer->channel;
  call->request.set_version(kTransportVersion);
  call->request.set_cluster_id(options_.cluster_id);
  call->request.set_from_node(options_.self.value());
  call->request.set_to_node(peer->id.value());
  size_t bytes = 0;
  size_t taken = 0;
  while (!peer->queue.empty() && (taken == 0 || bytes < options_.request_bytes_max)) {
    auto& [group, message] = peer->queue.front();
    const size_t size = MessageBytes(message);
    if (taken > 0 && bytes + size > options_.request_bytes_max) break;
    if (IsCompactHeartbeat(message)) {
      EncodeHeartbeat(group, message, call->request.add_heartbeats());
    } else {
      EncodeMessage(group, message, call->request.add_messages());
    }
    bytes += size;
    peer->queued_bytes -= size;
    peer->queue.pop_front();
    ++taken;
  }
  peer->in_flight = true;
  ++peer->stats.requests;
  peer->stats.messages_sent += taken;
  ++calls_in_flight_;
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(options_.request_timeout_ms));
  const NodeId node = peer->id;
  const uint64_t generation = peer->generation;
  peer->stub->async()->Exchange(
      &call->context, &call->request, &call->response,
      [this, call, node, generation](grpc::Status status) {
        const bool ok = status.ok() && call->response.error().empty();
        if (!status.ok()) {
          logging::Debug("rpc", "exchange with {} failed: {}", node, status.error_message());
        } else if (!ok) {
          logging::Warn("rpc", "broker {} refused messages: {}", node, call->response.error());
        }
        Finished(node, generation, ok);
      });
}

void Transport::Finished(NodeId node, uint64_t generation, bool ok) {
  absl::MutexLock lock(&mu_);
  --calls_in_flight_;
  auto it = peers_.find(node);
  if (it == peers_.end() || it->second->generation != generation) return;
  Peer& peer = *it->second;
  peer.in_flight = false;
  if (!ok) {
    ++peer.stats.failed_requests;
    peer.retry_at = absl::Now() + absl::Milliseconds(options_.retry_backoff_ms);
    return;
  }
  MaybeStartLocked(&peer);
}

PeerStats Transport::Stats(NodeId node) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(node);
  if (it == peers_.end()) return PeerStats{};
  PeerStats stats = it->second->stats;
  stats.queued_messages = it->second->queue.size();
  stats.queued_bytes = it->second->queued_bytes;
  return stats;
}

}  // namespace rill::rpc
