// Value types shared by the consumer-group core.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace rill::groups {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  }
  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.topic == b.topic && a.partition == b.partition;
  }
};

using PartitionSet = std::set<TopicPartition>;
// member id -> the partitions the target assignment gives it.
using Assignment = std::map<std::string, PartitionSet>;
// topic -> partition count, for the topics that exist.
using TopicCatalog = std::map<std::string, int32_t>;

}  // namespace rill::groups
