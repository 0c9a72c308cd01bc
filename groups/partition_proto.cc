#include "groups/partition_proto.h"

namespace rill::groups {

void ToProto(const PartitionSet& set, ProtoPartitions* out) {
  v1::TopicPartitions* current = nullptr;
  for (const auto& tp : set) {
    if (current == nullptr || current->topic() != tp.topic) {
      current = out->Add();
      current->set_topic(tp.topic);
    }
    current->add_partitions(tp.partition);
  }
}

PartitionSet FromProto(const ProtoPartitions& sets) {
  PartitionSet out;
  for (const auto& s : sets) {
    for (int32_t p : s.partitions()) out.insert({s.topic(), p});
  }
  return out;
}

}  // namespace rill::groups
