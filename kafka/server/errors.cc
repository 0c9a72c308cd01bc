#include "kafka/server/errors.h"

#include "api/error.h"

namespace rill::kafka {

KafkaError KafkaErrorOf(const absl::Status& status) {
  if (status.ok()) return KafkaError::kNone;
  switch (api::ErrorCodeOf(status)) {
    case v1::NONE:
      return KafkaError::kNone;
    case v1::UNKNOWN_TOPIC:
    case v1::UNKNOWN_PARTITION:
      return KafkaError::kUnknownTopicOrPartition;
    case v1::NOT_LEADER:
      return KafkaError::kNotLeaderOrFollower;
    case v1::CORRUPT_MESSAGE:
      return KafkaError::kCorruptMessage;
    case v1::MESSAGE_TOO_LARGE:
      return KafkaError::kMessageTooLarge;
    case v1::OFFSET_OUT_OF_RANGE:
      return KafkaError::kOffsetOutOfRange;
    case v1::INVALID_TOPIC:
      return KafkaError::kInvalidTopicException;
    case v1::TOPIC_ALREADY_EXISTS:
      return KafkaError::kTopicAlreadyExists;
    case v1::INVALID_PARTITIONS:
      return KafkaError::kInvalidPartitions;
    case v1::INVALID_REPLICATION_FACTOR:
      return KafkaError::kInvalidReplicationFactor;
    case v1::INVALID_CONFIG:
      return KafkaError::kInvalidConfig;
    case v1::INVALID_REQUEST:
    case v1::INVALID_OFFSET:
    case v1::NOT_ASSIGNED:
      return KafkaError::kInvalidRequest;
    case v1::STORAGE_ERROR:
      return KafkaError::kKafkaStorageError;
    case v1::REQUEST_TIMED_OUT:
      return KafkaError::kRequestTimedOut;
    case v1::INVALID_GROUP_ID:
      return KafkaError::kInvalidGroupId;
    case v1::GROUP_NOT_FOUND:
      return KafkaError::kGroupIdNotFound;
    case v1::UNKNOWN_MEMBER_ID:
      return KafkaError::kUnknownMemberId;
    case v1::FENCED_MEMBER_EPOCH:
      return KafkaError::kFencedMemberEpoch;
    case v1::STALE_MEMBER_EPOCH:
      return KafkaError::kStaleMemberEpoch;
    case v1::NOT_COORDINATOR:
      return KafkaError::kNotCoordinator;
    case v1::COORDINATOR_NOT_AVAILABLE:
      return KafkaError::kCoordinatorNotAvailable;
    case v1::GROUP_NOT_EMPTY:
      return KafkaError::kNonEmptyGroup;
    case v1::OFFSET_METADATA_TOO_LARGE:
      return KafkaError::kOffsetMetadataTooLarge;
    case v1::UNRELEASED_INSTANCE_ID:
      return KafkaError::kUnreleasedInstanceId;
    case v1::INVALID_RECORD:
      return KafkaError::kInvalidRecord;
    case v1::INVALID_TIMESTAMP:
      return KafkaError::kInvalidTimestamp;
    case v1::NOT_CONTROLLER:
      return KafkaError::kNotController;
    case v1::STALE_BROKER_EPOCH:
      return KafkaError::kStaleBrokerEpoch;
    case v1::OUT_OF_ORDER_SEQUENCE:
      return KafkaError::kOutOfOrderSequenceNumber;
    case v1::INVALID_PRODUCER_EPOCH:
      return KafkaError::kInvalidProducerEpoch;
    case v1::UNKNOWN_PRODUCER_ID:
      return KafkaError::kUnknownProducerId;
    case v1::REASSIGNMENT_IN_PROGRESS:
      return KafkaError::kReassignmentInProgress;
    case v1::NO_REASSIGNMENT_IN_PROGRESS:
      return KafkaError::kNoReassignmentInProgress;
    case v1::INVALID_REPLICA_ASSIGNMENT:
      return KafkaError::kInvalidReplicaAssignment;
    case v1::NOT_ENOUGH_REPLICAS:
      return KafkaError::kNotEnoughReplicas;
    case v1::REBALANCE_IN_PROGRESS:
      return KafkaError::kRebalanceInProgress;
    case v1::ILLEGAL_GENERATION:
      return KafkaError::kIllegalGeneration;
    case v1::INCONSISTENT_GROUP_PROTOCOL:
      return KafkaError::kInconsistentGroupProtocol;
    case v1::MEMBER_ID_REQUIRED:
      return KafkaError::kMemberIdRequired;
    case v1::GROUP_MAX_SIZE_REACHED:
      return KafkaError::kGroupMaxSizeReached;
    case v1::INVALID_SESSION_TIMEOUT:
      return KafkaError::kInvalidSessionTimeout;
    default:
      return KafkaError::kUnknownServerError;
  }
}

}  // namespace rill::kafka
