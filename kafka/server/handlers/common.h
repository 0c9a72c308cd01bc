// What several handlers share.
#pragma once

#include <string>

#include "base/ids.h"
#include "kafka/protocol/wire.h"
#include "kafka/server/context.h"

namespace rill::kafka::handlers {

// Asks the controller to create `topic` with the broker's defaults, when the broker creates
// topics on first use and the name is one a client may create; does not wait. The client is
// told to retry (LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION) and finds it then, as with
// Kafka's auto-creation. Returns whether a creation was asked for.
bool MaybeAutoCreate(KafkaContext& context, const std::string& topic);

Uuid UuidOf(TopicId id);
TopicId TopicIdOf(const Uuid& uuid);

}  // namespace rill::kafka::handlers
