// Transport: sends Raft messages to other brokers, batched per broker pair. Every message for a
// peer joins that peer's queue; one Exchange request at a time carries everything queued (up to
// request_bytes_max), heartbeats in their compact form. While one request is in flight the next
// batch gathers, so a busy pair sends few large requests and an idle one a request per tick.
//
// A slow or dead peer never holds up the others: each peer has its own queue, bounded in bytes
// and messages; past the bound new messages for it are dropped and counted (Raft resends what
// matters). After a failed request the peer is retried after a backoff.
//
// Thread-safety: all methods are thread-safe and never block on the network.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "raft/types.h"
#include "rill/internal/v1/transport.grpc.pb.h"
#include "rpc/codec.h"

namespace rill::rpc {

struct TransportOptions {
  std::string cluster_id;
  NodeId self;
  // Per peer: what may wait to be sent.
  size_t queue_bytes_max = 32 << 20;
  size_t queue_messages_max = 100000;
  // One request carries at most this many bytes of entries (always at least one message).
  size_t request_bytes_max = 4 << 20;
  int64_t request_timeout_ms = 5000;
  // The wait before trying a peer again after a failed request.
  int64_t retry_backoff_ms = 200;
};

struct PeerStats {
  uint64_t requests = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;
  uint64_t failed_requests = 0;
  size_t queued_messages = 0;
  size_t queued_bytes = 0;
};

class Transport {
 public:
  explicit Transport(TransportOptions options);
  // Cancels requests in flight and waits for them to end.
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Where `node`'s internal listener is (host:port). Replaces an earlier address.
  void SetPeer(NodeId node, const std::string& address);
  void RemovePeer(NodeId node);

  // Queues `message` (for message.to) of `group`. Dropped and counted when the peer is unknown
  // or its queue is full.
  void Send(const GroupKey& group, raft::Message message);

  PeerStats Stats(NodeId node) const;

 private:
  struct Peer;
  struct Call;
  void MaybeStartLocked(Peer* peer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finished(NodeId node, uint64_t generation, bool ok);

  const TransportOptions options_;
  mutable absl::Mutex mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  int calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_unknown_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rill::rpc
