// Kafka's "consumer" embedded protocol: the subscription a classic member sends in JoinGroup
// metadata and the assignment its leader hands out through SyncGroup. The broker passes these
// bytes through untouched; it reads them only to show who owns what (rillctl, lag), and writes
// them to describe native groups to Kafka tools. Big-endian, not flexible, any version (later
// versions only append fields).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "groups/types.h"

namespace rill::groups {

// The partitions of a ConsumerProtocolAssignment (user data ignored).
absl::StatusOr<PartitionSet> DecodeConsumerAssignment(std::string_view bytes);
// The topics of a ConsumerProtocolSubscription (user data and later fields ignored).
absl::StatusOr<std::vector<std::string>> DecodeConsumerSubscription(std::string_view bytes);

// Version 0 of each, without user data.
std::string EncodeConsumerAssignment(const PartitionSet& partitions);
std::string EncodeConsumerSubscription(const std::vector<std::string>& topics);

}  // namespace rill::groups
