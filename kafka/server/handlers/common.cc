#include "kafka/server/handlers/common.h"

#include <atomic>
#include <memory>

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

std::vector<ListedBroker> BrokersAt(KafkaContext& context, const cluster::MetadataImage& image,
                                    const std::string& listener) {
  std::vector<ListedBroker> out;
  for (const auto& [id, info] : image.brokers()) {
    if (info.fenced) continue;
    for (const cluster::Endpoint& endpoint : info.endpoints) {
      if (endpoint.name != listener) continue;
      out.push_back({id.value(), endpoint.host, endpoint.port,
                     info.rack.empty() ? std::nullopt : std::optional<std::string>(info.rack)});
    }
  }
  const cluster::BrokerInfo* self = image.Broker(NodeId(context.settings.node_id));
  if (self == nullptr || self->fenced) {
    const auto& [host, port] = context.advertised.at(listener);
    out.push_back({context.settings.node_id, host, port, std::nullopt});
  }
  return out;
}

int32_t ControllerIdFor(KafkaContext& context) {
  const NodeId controller = context.controller->status().raft.leader;
  return controller == kNoNode ? context.settings.node_id : controller.value();
}

void ChangeAll(KafkaContext& context, std::vector<std::optional<rpc::TopicChangeRequest>> changes,
               std::vector<absl::Status> outcomes,
               std::function<void(const std::vector<absl::Status>&)> done) {
  struct State {
    std::vector<absl::Status> outcomes;
    std::atomic<size_t> remaining{0};
    std::function<void(const std::vector<absl::Status>&)> done;
  };
  auto state = std::make_shared<State>();
  state->outcomes = std::move(outcomes);
  state->remaining.store(changes.size() + 1);
  state->done = std::move(done);
  auto complete_one = [state] {
    if (state->remaining.fetch_sub(1) == 1) state->done(state->outcomes);
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    if (!changes[i].has_value()) {
      complete_one();
      continue;
    }
    context.topics_frontend->Change(*changes[i], [state, i, complete_one](absl::Status s) {
      state->outcomes[i] = s;
      complete_one();
    });
  }
  complete_one();
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
