// The requests brokers make of the controller (proto/rill/internal/v1/controller.proto), as
// domain types: ControllerService turns the wire form into these for a ControllerHandler, and
// ControllerClient sends them. Errors are absl::Status values carrying rill.v1 error codes
// (api/error.h), NOT_CONTROLLER with the leader as its hint.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace rill::rpc {

inline constexpr uint32_t kControllerApiVersion = 1;

struct ListenerEndpoint {
  std::string name;
  std::string host;
  int32_t port = 0;
  friend bool operator==(const ListenerEndpoint&, const ListenerEndpoint&) = default;
};

struct RegisterBrokerRequest {
  NodeId node;
  std::string incarnation_id;
  std::vector<ListenerEndpoint> endpoints;
  std::string rack;
  // The broker's controller voters in canonical form (sorted "id@host:port,...").
  std::string controller_voters;
};

struct BrokerHeartbeatRequest {
  NodeId node;
  int64_t broker_epoch = 0;
  // The last metadata offset the broker has applied (-1 before any).
  Offset metadata_offset{-1};
};

// A change to topics, partitions or brokers the controller decides (ControllerLogic).
struct TopicChangeRequest {
  enum class Kind {
    kCreate,
    kDelete,
    kCreatePartitions,
    kAlterConfigs,
    kReassign,
    kCancelReassignment,
    // From a partition's leader: the move has reached its target (topic named by id).
    kCompleteReassignment,
    kDecommission,
    kRecommission,
  };
  Kind kind = Kind::kCreate;
  std::string topic;
  // kCreate: the partition count; kCreatePartitions: the new total.
  int32_t partitions = 0;
  int32_t replication_factor = 0;
  // kCreate: the topic's configs; kAlterConfigs: those to set.
  std::map<std::string, std::string> configs;
  // kAlterConfigs: those to remove.
  std::vector<std::string> remove_configs;
  bool validate_only = false;
  // The moves: the partition and the replicas it moves to (kCompleteReassignment: the
  // group's voters), and the throttle (nullopt: the controller's default; 0: none).
  int32_t partition = -1;
  std::vector<NodeId> replicas;
  std::optional<int64_t> throttle_bytes_per_second;
  // kCompleteReassignment: the topic's 16-byte id.
  std::string topic_id;
  // kDecommission, kRecommission: the broker.
  NodeId node;
};

struct AllocateProducerIdsRequest {
  NodeId node;
  int64_t broker_epoch = 0;
};

// Producer ids [first, first + count), this broker's to hand out.
struct ProducerIdRange {
  int64_t first = 0;
  int64_t count = 0;
};

template <typename T>
using Reply = std::function<void(absl::StatusOr<T>)>;

// What the controller answers. Each method calls `reply` exactly once, from any thread, and
// must not block.
class ControllerHandler {
 public:
  virtual ~ControllerHandler() = default;
  // The broker's epoch.
  virtual void RegisterBroker(const RegisterBrokerRequest& request, Reply<int64_t> reply) = 0;
  // Whether the broker is fenced.
  virtual void BrokerHeartbeat(const BrokerHeartbeatRequest& request, Reply<bool> reply) = 0;
  // The metadata offset through which the change is committed (for validate_only: the offset
  // it was checked against).
  virtual void ChangeTopic(const TopicChangeRequest& request, Reply<Offset> reply) = 0;
  // A block of producer ids, committed to the metadata log before it is answered.
  virtual void AllocateProducerIds(const AllocateProducerIdsRequest& request,
                                   Reply<ProducerIdRange> reply) = 0;
};

}  // namespace rill::rpc
