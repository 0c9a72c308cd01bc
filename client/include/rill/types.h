// Types shared by the Rill client SDK (Producer, Consumer, Admin).
//
// Errors are absl::Status values whose message starts with the API error name
// ("UNKNOWN_TOPIC: topic 'x' does not exist"); rill::ErrorCodeOf tells them apart exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace rill {

// Where and how to reach the cluster.
struct ClientOptions {
  // Comma-separated HOST:PORT list of brokers to start from (any one will do).
  std::string bootstrap_brokers = "127.0.0.1:9290";
  // Deadline for one request.
  int request_timeout_ms = 30000;
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
};

struct Header {
  std::string key;
  std::optional<std::string> value;
};

// The API error codes of proto/rill/v1/errors.proto.
enum class ErrorCode {
  kNone = 0,
  kUnknownTopic = 1,
  kUnknownPartition = 2,
  kNotLeader = 3,
  kCorruptMessage = 4,
  kMessageTooLarge = 5,
  kOffsetOutOfRange = 6,
  kInvalidTopic = 7,
  kTopicAlreadyExists = 8,
  kInvalidPartitions = 9,
  kInvalidReplicationFactor = 10,
  kInvalidConfig = 11,
  kInvalidRequest = 12,
  kStorageError = 13,
  kRequestTimedOut = 14,
  kUnknownServerError = 15,
  kOutOfOrderSequence = 36,
  kInvalidProducerEpoch = 37,
  kUnknownProducerId = 38,
  kReassignmentInProgress = 39,
  kNoReassignmentInProgress = 40,
  kInvalidReplicaAssignment = 41,
  kNotEnoughReplicas = 42,
};

// The API error a status carries (kNone for OK or for errors that are not API errors, such as
// an unreachable broker: those are Unavailable/DeadlineExceeded).
ErrorCode ErrorCodeOf(const absl::Status& status);

}  // namespace rill
