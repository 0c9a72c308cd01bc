#include "cluster/topic_names.h"
#include "groups/group_store.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

constexpr int8_t kGroupKey = 0;

struct Found {
  KafkaError error = KafkaError::kNone;
  std::string message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

Found Failed(KafkaError error, std::string message) {
  Found found;
  found.error = error;
  found.message = std::move(message);
  return found;
}

// The coordinator of `group`: the leader of its partition of the offsets topic, at its address
// on `listener`.
Found Locate(KafkaContext& context, const std::string& listener, int8_t key_type,
             const std::string& group) {
  if (key_type != kGroupKey) {
    return Failed(KafkaError::kInvalidRequest, "only group coordinators exist (no transactions)");
  }
  if (group.empty()) return Failed(KafkaError::kInvalidGroupId, "empty group id");
  const auto image = context.controller->image();
  const cluster::TopicInfo* offsets = image->TopicByName(cluster::kConsumerOffsetsTopic);
  if (offsets == nullptr || offsets->partitions.empty()) {
    return Failed(KafkaError::kCoordinatorNotAvailable, "the offsets topic does not exist yet");
  }
  const int32_t partition =
      groups::GroupPartitionFor(group, static_cast<int32_t>(offsets->partitions.size()));
  const auto view = context.topics->Leader(cluster::kConsumerOffsetsTopic, partition);
  const cluster::BrokerInfo* leader = image->Broker(view.leader);
  if (leader == nullptr || leader->fenced) {
    return Failed(KafkaError::kCoordinatorNotAvailable, "the group's coordinator has no leader");
  }
  for (const cluster::Endpoint& endpoint : leader->endpoints) {
    if (endpoint.name == listener) {
      Found found;
      found.node_id = view.leader.value();
      found.host = endpoint.host;
      found.port = endpoint.port;
      return found;
    }
  }
  return Failed(KafkaError::kCoordinatorNotAvailable,
                "the group's coordinator has no listener named " + listener);
}

}  // namespace

absl::Status FindCoordinator(KafkaContext& context, const Request& request, WireReader& body,
                             Respond respond) {
  const int16_t version = request.header.api_version;
  FindCoordinatorRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  FindCoordinatorResponse out;
  if (version < 4) {
    Found found = Locate(context, request.listener, in.key_type, in.key);
    out.error_code = Code(found.error);
    if (!found.message.empty()) out.error_message = found.message;
    out.node_id = found.node_id;
    out.host = found.host;
    out.port = found.port;
  } else {
    for (const std::string& key : in.coordinator_keys) {
      Found found = Locate(context, request.listener, in.key_type, key);
      out.coordinators.push_back({key, found.node_id, found.host, found.port, Code(found.error),
                                  found.message.empty() ? std::nullopt
                                                        : std::optional<std::string>(found.message)});
    }
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
