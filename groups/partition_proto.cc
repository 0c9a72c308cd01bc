#include "groups/partition_proto.h"

#include "api/topic_partitions.h"

namespace rill::groups {

void ToProto(const PartitionSet& set, ProtoPartitions* out) {
  api::AppendTopicPartitions(set, out);
}

PartitionSet FromProto(const ProtoPartitions& sets) {
  PartitionSet out;
  for (const auto& s : sets) {
    for (int32_t p : s.partitions()) out.insert({s.topic(), p});
  }
  return out;
}

}  // namespace rill::groups
