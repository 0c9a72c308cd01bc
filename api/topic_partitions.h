// The protobuf list of partitions used by the Groups API and the __consumer_offsets records:
// one TopicPartitions entry per topic. Shared by the broker's group rules and the SDK, which
// each keep their own {topic, partition} type.
#pragma once

#include "google/protobuf/repeated_ptr_field.h"
#include "rill/v1/group.pb.h"

namespace rill::api {

// Appends `partitions`, sorted by topic then partition (a std::set of a type with `topic` and
// `partition` members), as one entry per topic.
template <typename SortedPartitions>
void AppendTopicPartitions(const SortedPartitions& partitions,
                           google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out) {
  v1::TopicPartitions* current = nullptr;
  for (const auto& tp : partitions) {
    if (current == nullptr || current->topic() != tp.topic) {
      current = out->Add();
      current->set_topic(tp.topic);
    }
    current->add_partitions(tp.partition);
  }
}

}  // namespace rill::api
