// Per-topic configs, by their Kafka names, on top of the broker's defaults:
//
//   retention.ms  retention.bytes  segment.bytes  segment.ms  max.message.bytes
//   flush.ms  index.interval.bytes  cleanup.policy (only "delete": compaction comes later)
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/log_config.h"

namespace rill::cluster {

using TopicConfigs = std::map<std::string, std::string>;

// The log settings for a topic: `defaults` with `configs` applied. INVALID_CONFIG for an
// unknown name or a bad value.
absl::StatusOr<storage::LogConfig> ApplyTopicConfigs(const storage::LogConfig& defaults,
                                                     const TopicConfigs& configs);

enum class ConfigSource { kDefault, kBroker, kTopic };

struct EffectiveConfig {
  std::string name;
  std::string value;
  ConfigSource source;
};

// Every supported config with its effective value and where that comes from, sorted by name:
// `configs` of the topic over the broker's `defaults`, which came from `built_in` where the
// two agree.
std::vector<EffectiveConfig> DescribeTopicConfigs(const storage::LogConfig& built_in,
                                                  const storage::LogConfig& defaults,
                                                  const TopicConfigs& configs);

}  // namespace rill::cluster
