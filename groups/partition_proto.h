// Conversions between groups::PartitionSet and the protobuf lists of partitions used by the
// Groups API and the __consumer_offsets records.
#pragma once

#include "google/protobuf/repeated_ptr_field.h"
#include "groups/types.h"
#include "rill/v1/group.pb.h"

namespace rill::groups {

using ProtoPartitions = google::protobuf::RepeatedPtrField<v1::TopicPartitions>;

// One entry per topic, in topic order.
void ToProto(const PartitionSet& set, ProtoPartitions* out);
PartitionSet FromProto(const ProtoPartitions& sets);

}  // namespace rill::groups
