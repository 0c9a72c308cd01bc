// What several handlers share.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "kafka/protocol/wire.h"
#include "kafka/server/context.h"

namespace rill::kafka::handlers {

// Asks the controller to create `topic` with the broker's defaults, when the broker creates
// topics on first use and the name is one a client may create; does not wait. The client is
// told to retry (LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION) and finds it then, as with
// Kafka's auto-creation. Returns whether a creation was asked for.
bool MaybeAutoCreate(KafkaContext& context, const std::string& topic);

// A broker as the clients of one Kafka listener reach it.
struct ListedBroker {
  int32_t node_id = 0;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
};

// Every unfenced broker that has `listener` (a broker without it is left out, as Kafka leaves
// it out), and this broker while it is not registered yet.
std::vector<ListedBroker> BrokersAt(KafkaContext& context, const cluster::MetadataImage& image,
                                    const std::string& listener);

// The controller clients are told of: the quorum's leader, or this broker while it knows of
// none (any broker forwards topic changes to the leader, so it answers for it).
int32_t ControllerIdFor(KafkaContext& context);

// Runs `changes` (through the controller) at once and calls `done` with their outcomes, in
// order, when all are in; an absent change keeps the outcome given for it.
void ChangeAll(KafkaContext& context, std::vector<std::optional<rpc::TopicChangeRequest>> changes,
               std::vector<absl::Status> outcomes,
               std::function<void(const std::vector<absl::Status>&)> done);

Uuid UuidOf(TopicId id);
TopicId TopicIdOf(const Uuid& uuid);

}  // namespace rill::kafka::handlers
