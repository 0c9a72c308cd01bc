#include "cluster/topic_config.h"

#include <charconv>
#include <functional>

#include "api/error.h"
#include "base/fmt_absl.h"

namespace rill::cluster {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;
namespace {

struct ConfigKey {
  const char* name;
  std::function<absl::Status(const std::string&, storage::LogConfig*)> set;
  std::function<std::string(const storage::LogConfig&)> get;
};

absl::StatusOr<int64_t> ParseInt(const std::string& name, const std::string& value) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size()) {
    return ApiError(v1::INVALID_CONFIG, fmt::format("{}: '{}' is not an integer", name, value));
  }
  return out;
}

template <typename Field>
ConfigKey IntKey(const char* name, Field storage::LogConfig::*field) {
  return ConfigKey{
      name,
      [name, field](const std::string& value, storage::LogConfig* config) -> absl::Status {
        auto parsed = ParseInt(name, value);
        if (!parsed.ok()) return parsed.status();
        if (*parsed < 0 && std::is_unsigned_v<Field>) {
          return ApiError(v1::INVALID_CONFIG, fmt::format("{} must not be negative", name));
        }
        config->*field = static_cast<Field>(*parsed);
        return absl::OkStatus();
      },
      [field](const storage::LogConfig& config) { return std::to_string(config.*field); }};
}

const std::vector<ConfigKey>& Keys() {
  static const auto* keys = new std::vector<ConfigKey>{
      ConfigKey{"cleanup.policy",
                [](const std::string& value, storage::LogConfig*) -> absl::Status {
                  if (value == "delete") return absl::OkStatus();
                  return ApiError(v1::INVALID_CONFIG,
                                  fmt::format("cleanup.policy '{}' is not supported (only "
                                              "'delete'; compaction is not implemented yet)",
                                              value));
                },
                [](const storage::LogConfig&) { return std::string("delete"); }},
      IntKey("flush.ms", &storage::LogConfig::flush_interval_ms),
      IntKey("index.interval.bytes", &storage::LogConfig::index_interval_bytes),
      IntKey("max.message.bytes", &storage::LogConfig::max_batch_bytes),
      IntKey("message.timestamp.after.max.ms", &storage::LogConfig::message_timestamp_after_max_ms),
      IntKey("message.timestamp.before.max.ms",
             &storage::LogConfig::message_timestamp_before_max_ms),
      IntKey("retention.bytes", &storage::LogConfig::retention_bytes),
      IntKey("retention.ms", &storage::LogConfig::retention_ms),
      IntKey("segment.bytes", &storage::LogConfig::segment_bytes),
      IntKey("segment.ms", &storage::LogConfig::segment_ms),
  };
  return *keys;
}

const ConfigKey* Find(const std::string& name) {
  for (const auto& key : Keys()) {
    if (name == key.name) return &key;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<storage::LogConfig> ApplyTopicConfigs(const storage::LogConfig& defaults,
                                                     const TopicConfigs& configs) {
  storage::LogConfig config = defaults;
  for (const auto& [name, value] : configs) {
    const ConfigKey* key = Find(name);
    if (key == nullptr) {
      return ApiError(v1::INVALID_CONFIG, fmt::format("unknown topic config '{}'", name));
    }
    if (auto s = key->set(value, &config); !s.ok()) return s;
  }
  if (auto s = config.Validate(); !s.ok()) {
    return ApiError(v1::INVALID_CONFIG, std::string(s.message()));
  }
  return config;
}

std::vector<EffectiveConfig> DescribeTopicConfigs(const storage::LogConfig& built_in,
                                                  const storage::LogConfig& defaults,
                                                  const TopicConfigs& configs) {
  auto applied = ApplyTopicConfigs(defaults, configs);
  const storage::LogConfig& effective = applied.ok() ? *applied : defaults;
  std::vector<EffectiveConfig> out;
  for (const auto& key : Keys()) {
    const ConfigSource source = configs.contains(key.name)               ? ConfigSource::kTopic
                                : key.get(defaults) != key.get(built_in) ? ConfigSource::kBroker
                                                                         : ConfigSource::kDefault;
    out.push_back({key.name, key.get(effective), source});
  }
  return out;
}

}  // namespace rill::cluster
