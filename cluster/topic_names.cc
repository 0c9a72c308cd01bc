#include "cluster/topic_names.h"

#include <string>

#include "api/error.h"
#include "fmt/format.h"

namespace rill::cluster {

absl::Status ValidateTopicName(std::string_view name) {
  if (name.empty() || name.size() > kTopicNameBytesMax) {
    return api::ApiError(v1::INVALID_TOPIC,
                         fmt::format("topic name must be 1 to {} characters, got {}",
                                     kTopicNameBytesMax, name.size()));
  }
  if (name == "." || name == "..") {
    return api::ApiError(v1::INVALID_TOPIC, fmt::format("topic name cannot be '{}'", name));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return api::ApiError(
          v1::INVALID_TOPIC,
          fmt::format("topic name '{}' has characters outside [a-zA-Z0-9._-]", name));
    }
  }
  return absl::OkStatus();
}

bool IsInternalTopic(std::string_view name) { return name.starts_with(kInternalTopicPrefix); }

absl::Status RejectInternalTopic(std::string_view name, std::string_view action) {
  if (!IsInternalTopic(name)) return absl::OkStatus();
  return api::ApiError(v1::INVALID_TOPIC,
                       fmt::format("cannot {} '{}': names starting with '{}' are internal to "
                                   "the broker",
                                   action, name, kInternalTopicPrefix));
}

std::string PartitionLogName(std::string_view topic, TopicId id, PartitionId partition) {
  constexpr size_t kDirNameBytesMax = 255;
  const std::string suffix = fmt::format("-{}-{}", partition, id);
  return fmt::format("{}{}", topic.substr(0, kDirNameBytesMax - suffix.size()), suffix);
}

}  // namespace rill::cluster
