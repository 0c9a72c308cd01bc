#include "kafka/server/handlers/common.h"

#include "cluster/topic_names.h"

namespace rill::kafka::handlers {

bool MaybeAutoCreate(KafkaContext& context, const std::string& topic) {
  if (!context.settings.auto_create_topics || !cluster::ValidateTopicName(topic).ok() ||
      cluster::IsInternalTopic(topic)) {
    return false;
  }
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kCreate;
  change.topic = topic;
  change.partitions = context.settings.default_partitions;
  change.replication_factor = context.settings.default_replication_factor;
  context.topics_frontend->Change(change, [](absl::Status) {});
  return true;
}

Uuid UuidOf(TopicId id) {
  Uuid out{};
  for (int i = 0; i < 8; ++i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(id.high() >> (56 - 8 * i));
    out[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(id.low() >> (56 - 8 * i));
  }
  return out;
}

TopicId TopicIdOf(const Uuid& uuid) {
  uint64_t high = 0;
  uint64_t low = 0;
  for (size_t i = 0; i < 8; ++i) {
    high = high << 8 | uuid[i];
    low = low << 8 | uuid[8 + i];
  }
  return TopicId(high, low);
}

}  // namespace rill::kafka::handlers
