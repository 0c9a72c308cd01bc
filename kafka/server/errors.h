// Kafka's error codes (docs/kafka.md, "Errors"), and the one translation from the domain's
// statuses (api/error.h codes) to them. Handlers never pick a Kafka code for a domain failure
// themselves; they pass the status through KafkaErrorOf.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace rill::kafka {

enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kNotEnoughReplicas = 19,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kInvalidTimestamp = 32,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kNotController = 41,
  kInvalidRequest = 42,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTransactionTimeout = 50,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kReassignmentInProgress = 60,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kStaleBrokerEpoch = 77,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kNoReassignmentInProgress = 85,
  kInvalidRecord = 87,
  kUnknownTopicId = 100,
  kFencedMemberEpoch = 110,
  kUnreleasedInstanceId = 111,
  kStaleMemberEpoch = 113,
  kUnsupportedEndpointType = 115,
};

// The Kafka code for a domain status (kNone for OK).
KafkaError KafkaErrorOf(const absl::Status& status);

inline int16_t Code(KafkaError error) { return static_cast<int16_t>(error); }
inline int16_t ErrorCode(const absl::Status& status) { return Code(KafkaErrorOf(status)); }

}  // namespace rill::kafka
