// CreateTopics and DeleteTopics: topic changes go through the controller quorum, as rillctl's
// do; each topic is answered once this broker has applied its change.
#include <atomic>
#include <memory>

#include "api/error.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/common.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {


absl::Status CreateTopics(KafkaContext& context, const Request& request, WireReader& body,
                          Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<CreateTopicsRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;
  std::vector<std::optional<rpc::TopicChangeRequest>> changes;
  std::vector<absl::Status> outcomes;
  for (const CreatableTopic& topic : in->topics) {
    outcomes.emplace_back();
    if (!topic.assignments.empty()) {
      changes.emplace_back();
      outcomes.back() = api::ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                                      "manual replica assignments are not supported; give a "
                                      "partition count and replication factor");
      continue;
    }
    rpc::TopicChangeRequest& change = changes.emplace_back().emplace();
    change.kind = rpc::TopicChangeRequest::Kind::kCreate;
    change.topic = topic.name;
    change.partitions =
        topic.num_partitions == -1 ? context.settings.default_partitions : topic.num_partitions;
    change.replication_factor = topic.replication_factor == -1
                                    ? context.settings.default_replication_factor
                                    : topic.replication_factor;
    change.validate_only = in->validate_only;
    for (const CreatableTopicConfig& config : topic.configs) {
      if (config.value.has_value()) change.configs[config.name] = *config.value;
    }
  }
  ChangeAll(context, std::move(changes), std::move(outcomes),
            [&context, in, version, respond](const std::vector<absl::Status>& outcomes) {
              CreateTopicsResponse out;
              const auto image = context.controller->image();
              for (size_t i = 0; i < in->topics.size(); ++i) {
                const CreatableTopic& topic = in->topics[i];
                CreatableTopicResult& result = out.topics.emplace_back();
                result.name = topic.name;
                result.error_code = ErrorCode(outcomes[i]);
                if (!outcomes[i].ok()) {
                  result.error_message = std::string(outcomes[i].message());
                  continue;
                }
                if (const cluster::TopicInfo* info = image->TopicByName(topic.name)) {
                  result.topic_id = UuidOf(info->id);
                  result.num_partitions = static_cast<int32_t>(info->partitions.size());
                  result.replication_factor = static_cast<int16_t>(info->replication_factor);
                }
              }
              respond(Encode(out, version));
            });
  return absl::OkStatus();
}

absl::Status DeleteTopics(KafkaContext& context, const Request& request, WireReader& body,
                          Respond respond) {
  const int16_t version = request.header.api_version;
  DeleteTopicsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  // Each topic by name, and by id when v6 names it so.
  auto targets = std::make_shared<std::vector<DeletableTopicResult>>();
  const auto image = context.controller->image();
  for (const std::string& name : in.topic_names) targets->push_back({name, {}, 0, std::nullopt});
  for (const DeleteTopicState& topic : in.topics) {
    DeletableTopicResult& target = targets->emplace_back();
    target.name = topic.name;
    target.topic_id = topic.topic_id;
    if (!topic.name.has_value()) {
      if (const cluster::TopicInfo* info = image->Topic(TopicIdOf(topic.topic_id))) {
        target.name = info->name;
      }
    }
  }
  std::vector<std::optional<rpc::TopicChangeRequest>> changes;
  std::vector<absl::Status> outcomes(targets->size());
  for (size_t i = 0; i < targets->size(); ++i) {
    DeletableTopicResult& target = (*targets)[i];
    if (!target.name.has_value()) {
      changes.emplace_back();
      outcomes[i] = api::ApiError(v1::UNKNOWN_TOPIC, "no topic has that id");
      continue;
    }
    if (const cluster::TopicInfo* info = image->TopicByName(*target.name)) {
      target.topic_id = UuidOf(info->id);
    }
    rpc::TopicChangeRequest& change = changes.emplace_back().emplace();
    change.kind = rpc::TopicChangeRequest::Kind::kDelete;
    change.topic = *target.name;
  }
  ChangeAll(context, std::move(changes), std::move(outcomes),
            [targets, version, respond](const std::vector<absl::Status>& outcomes) {
              DeleteTopicsResponse out;
              out.responses = std::move(*targets);
              for (size_t i = 0; i < outcomes.size(); ++i) {
                DeletableTopicResult& result = out.responses[i];
                result.error_code = ErrorCode(outcomes[i]);
                // A topic asked for by an id no topic has.
                if (!result.name.has_value()) result.error_code = Code(KafkaError::kUnknownTopicId);
                if (!outcomes[i].ok()) result.error_message = std::string(outcomes[i].message());
              }
              respond(Encode(out, version));
            });
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
