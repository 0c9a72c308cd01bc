// The wire form of Raft messages between brokers (proto/rill/internal/v1/transport.proto):
// raft::Message to and from RaftMessage, and the compact Heartbeat form that heartbeats and
// their answers without a read context take. Decoding checks everything a peer sends against
// limits before it becomes a raft::Message; the Raft core only sees well-formed messages.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "raft/types.h"
#include "rill/internal/v1/transport.pb.h"

namespace rill::rpc {

inline constexpr uint32_t kTransportVersion = 1;

// A Raft group: a topic partition, or the controller (the zero topic id, partition 0).
struct GroupKey {
  TopicId topic;
  PartitionId partition;
  auto operator<=>(const GroupKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupKey& g) {
    return H::combine(std::move(h), g.topic, g.partition);
  }
};

inline constexpr GroupKey kControllerGroup{};

struct CodecLimits {
  size_t entries_per_message_max = 10000;
  size_t voters_max = 64;
  size_t context_bytes_max = 1024;
};

void EncodeGroup(const GroupKey& group, internal::v1::GroupId* out);
absl::StatusOr<GroupKey> DecodeGroup(const internal::v1::GroupId& group);

// Whether `m` travels as a compact Heartbeat.
bool IsCompactHeartbeat(const raft::Message& m);
void EncodeHeartbeat(const GroupKey& group, const raft::Message& m, internal::v1::Heartbeat* out);
raft::Message DecodeHeartbeat(const internal::v1::Heartbeat& h, NodeId from, NodeId to);

void EncodeMessage(const GroupKey& group, const raft::Message& m, internal::v1::RaftMessage* out);
// InvalidArgument naming what is wrong: an unknown type, negative positions, too many entries.
absl::StatusOr<raft::Message> DecodeMessage(const internal::v1::RaftMessage& m, NodeId from,
                                            NodeId to, const CodecLimits& limits);

}  // namespace rill::rpc
