// Server-side assignors: given the members of a group with the topics each subscribes to and
// the previous target assignment, compute the next target assignment.
//
// - "uniform" (the default) balances partition counts (members differ by at most one where
//   their subscriptions allow) and is sticky: a partition stays with its previous member
//   unless that member is over its share or no longer subscribes to the topic.
// - "range" gives each member, per topic, a contiguous range of partitions (Kafka's
//   RangeAssignor): members sorted by id, the first (partitions % members) get one extra.
//
// Pure functions: no I/O, no clock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "groups/types.h"

namespace rill::groups {

struct AssignorMember {
  std::string member_id;
  // Subscribed topics that exist.
  std::set<std::string> topics;
  // The member's share of the previous target assignment.
  PartitionSet previous;
};

bool IsKnownAssignor(std::string_view name);

// Every member appears in the result (possibly with nothing). INVALID_ARGUMENT for an unknown
// assignor.
absl::StatusOr<Assignment> ComputeAssignment(std::string_view assignor,
                                             const std::vector<AssignorMember>& members,
                                             const TopicCatalog& topics);

}  // namespace rill::groups
