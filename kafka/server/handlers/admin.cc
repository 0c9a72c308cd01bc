// The admin APIs beside topic creation and deletion: CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DeleteRecords and DescribeCluster. Changes go through
// the controller quorum as rillctl's do; reads answer from this broker's metadata.
#include <memory>
#include <set>

#include "api/error.h"
#include "cluster/topic_config.h"
#include "cluster/topic_names.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/common.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

// Kafka's ConfigResource types and ConfigSource values.
constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;
constexpr int8_t kTopicConfigSource = 1;
constexpr int8_t kStaticBrokerConfigSource = 4;
constexpr int8_t kDefaultConfigSource = 5;
// IncrementalAlterConfigs operations.
constexpr int8_t kSetConfig = 0;
constexpr int8_t kDeleteConfig = 1;
constexpr int8_t kAppendConfig = 2;
constexpr int8_t kSubtractConfig = 3;

std::optional<std::string> MessageOf(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  return std::string(status.message());
}

// The broker setting that holds the default of a topic config (broker/config.cc names them).
std::string BrokerSettingOf(const std::string& topic_config) {
  if (topic_config == "max.message.bytes") return "message.max.bytes";
  if (topic_config == "flush.ms") return "log.flush.interval.ms";
  return "log." + topic_config;
}

int8_t KafkaSourceOf(cluster::ConfigSource source) {
  switch (source) {
    case cluster::ConfigSource::kTopic:
      return kTopicConfigSource;
    case cluster::ConfigSource::kBroker:
      return kStaticBrokerConfigSource;
    case cluster::ConfigSource::kDefault:
      return kDefaultConfigSource;
  }
  return kDefaultConfigSource;
}

DescribeConfigsResult DescribeResource(KafkaContext& context, const DescribeConfigsResource& in,
                                       int16_t version, bool include_synonyms) {
  DescribeConfigsResult out;
  out.resource_type = in.resource_type;
  out.resource_name = in.resource_name;
  std::optional<std::set<std::string>> wanted;
  if (in.configuration_keys.has_value()) {
    wanted.emplace(in.configuration_keys->begin(), in.configuration_keys->end());
  }
  cluster::TopicConfigs configs;
  bool broker = false;
  if (in.resource_type == kTopicResource) {
    auto record = context.topics->Get(in.resource_name);
    if (!record) {
      out.error_code = Code(KafkaError::kUnknownTopicOrPartition);
      out.error_message = "topic '" + in.resource_name + "' does not exist";
      return out;
    }
    configs = cluster::TopicConfigs(record->configs().begin(), record->configs().end());
  } else if (in.resource_type == kBrokerResource &&
             (in.resource_name.empty() ||
              in.resource_name == std::to_string(context.settings.node_id))) {
    // A broker's settings that topics inherit; they are set at start, not altered here.
    broker = true;
  } else {
    out.error_code = Code(KafkaError::kInvalidRequest);
    out.error_message = "only topics and this broker's own configs can be described";
    return out;
  }
  for (const cluster::EffectiveConfig& entry : cluster::DescribeTopicConfigs(
           storage::LogConfig(), context.topics->log_defaults(), configs)) {
    const std::string name = broker ? BrokerSettingOf(entry.name) : entry.name;
    if (wanted && wanted->count(name) == 0) continue;
    DescribeConfigsResourceResult& config = out.configs.emplace_back();
    config.name = name;
    config.value = entry.value;
    config.read_only = broker;
    config.is_default = entry.source == cluster::ConfigSource::kDefault ||
                        (!broker && entry.source != cluster::ConfigSource::kTopic);
    config.config_source = KafkaSourceOf(entry.source);
    if (version >= 1 && include_synonyms) {
      config.synonyms.push_back({name, entry.value, config.config_source});
    }
  }
  return out;
}

// A change of one topic's configs, or why none is made.
struct ConfigChange {
  std::optional<rpc::TopicChangeRequest> change;
  absl::Status refused;
};

ConfigChange NewConfigChange(KafkaContext& context, int8_t resource_type,
                             const std::string& topic, bool validate_only) {
  ConfigChange out;
  if (resource_type != kTopicResource) {
    out.refused = api::ApiError(v1::INVALID_REQUEST,
                                "only topic configs can be altered (broker settings are set at "
                                "start)");
    return out;
  }
  if (auto s = cluster::RejectInternalTopic(topic, "reconfigure"); !s.ok()) {
    out.refused = s;
    return out;
  }
  rpc::TopicChangeRequest& change = out.change.emplace();
  change.kind = rpc::TopicChangeRequest::Kind::kAlterConfigs;
  change.topic = topic;
  change.validate_only = validate_only;
  return out;
}

// Makes the config changes of `in`'s resources and answers one entry per resource, in order.
template <typename Response, typename Request>
void ChangeConfigs(KafkaContext& context, std::shared_ptr<Request> in, int16_t version,
                   Respond respond, std::vector<std::optional<rpc::TopicChangeRequest>> changes,
                   std::vector<absl::Status> outcomes) {
  ChangeAll(context, std::move(changes), std::move(outcomes),
            [in, version, respond](const std::vector<absl::Status>& outcomes) {
              Response out;
              for (size_t i = 0; i < in->resources.size(); ++i) {
                out.responses.push_back({ErrorCode(outcomes[i]), MessageOf(outcomes[i]),
                                         in->resources[i].resource_type,
                                         in->resources[i].resource_name});
              }
              respond(Encode(out, version));
            });
}

}  // namespace

absl::Status CreatePartitions(KafkaContext& context, const Request& request, WireReader& body,
                              Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<CreatePartitionsRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;
  std::vector<std::optional<rpc::TopicChangeRequest>> changes;
  std::vector<absl::Status> outcomes;
  for (const CreatePartitionsTopic& topic : in->topics) {
    outcomes.push_back(
        topic.assignments.has_value() && !topic.assignments->empty()
            ? api::ApiError(v1::INVALID_REPLICA_ASSIGNMENT,
                            "manual replica assignments are not supported; give a count")
            : context.topics->CheckAddPartitions(topic.name, topic.count));
    if (!outcomes.back().ok()) {
      changes.emplace_back();
      continue;
    }
    rpc::TopicChangeRequest& change = changes.emplace_back().emplace();
    change.kind = rpc::TopicChangeRequest::Kind::kCreatePartitions;
    change.topic = topic.name;
    change.partitions = topic.count;
    change.validate_only = in->validate_only;
  }
  ChangeAll(context, std::move(changes), std::move(outcomes),
            [in, version, respond](const std::vector<absl::Status>& outcomes) {
              CreatePartitionsResponse out;
              for (size_t i = 0; i < in->topics.size(); ++i) {
                out.results.push_back(
                    {in->topics[i].name, ErrorCode(outcomes[i]), MessageOf(outcomes[i])});
              }
              respond(Encode(out, version));
            });
  return absl::OkStatus();
}

absl::Status DescribeConfigs(KafkaContext& context, const Request& request, WireReader& body,
                             Respond respond) {
  const int16_t version = request.header.api_version;
  DescribeConfigsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  DescribeConfigsResponse out;
  for (const DescribeConfigsResource& resource : in.resources) {
    out.results.push_back(DescribeResource(context, resource, version, in.include_synonyms));
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

absl::Status AlterConfigs(KafkaContext& context, const Request& request, WireReader& body,
                          Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<AlterConfigsRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;
  std::vector<std::optional<rpc::TopicChangeRequest>> changes;
  std::vector<absl::Status> outcomes;
  for (const AlterConfigsResource& resource : in->resources) {
    ConfigChange made =
        NewConfigChange(context, resource.resource_type, resource.resource_name, in->validate_only);
    if (made.change) {
      // The configs given replace the topic's: every other one returns to its default.
      std::set<std::string> named;
      for (const AlterableConfig& config : resource.configs) {
        named.insert(config.name);
        if (config.value.has_value()) {
          made.change->configs[config.name] = *config.value;
        } else {
          made.change->remove_configs.push_back(config.name);
        }
      }
      if (auto record = context.topics->Get(resource.resource_name)) {
        for (const auto& [name, value] : record->configs()) {
          if (named.count(name) == 0) made.change->remove_configs.push_back(name);
        }
      }
    }
    changes.push_back(std::move(made.change));
    outcomes.push_back(made.refused);
  }
  ChangeConfigs<AlterConfigsResponse>(context, in, version, std::move(respond),
                                      std::move(changes), std::move(outcomes));
  return absl::OkStatus();
}

absl::Status IncrementalAlterConfigs(KafkaContext& context, const Request& request,
                                     WireReader& body, Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<IncrementalAlterConfigsRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;
  std::vector<std::optional<rpc::TopicChangeRequest>> changes;
  std::vector<absl::Status> outcomes;
  for (const IncrementalAlterConfigsResource& resource : in->resources) {
    ConfigChange made =
        NewConfigChange(context, resource.resource_type, resource.resource_name, in->validate_only);
    for (const IncrementalAlterableConfig& config : resource.configs) {
      if (!made.change) break;
      if (config.config_operation == kSetConfig && config.value.has_value()) {
        made.change->configs[config.name] = *config.value;
      } else if (config.config_operation == kDeleteConfig) {
        made.change->remove_configs.push_back(config.name);
      } else {
        made.refused =
            config.config_operation == kAppendConfig || config.config_operation == kSubtractConfig
                ? api::ApiError(v1::INVALID_CONFIG,
                                "'" + config.name + "' is not a list: it cannot be appended to "
                                                    "or subtracted from")
                : api::ApiError(v1::INVALID_REQUEST,
                                "unknown config operation " +
                                    std::to_string(config.config_operation) +
                                    " (or a set without a value)");
        made.change.reset();
      }
    }
    changes.push_back(std::move(made.change));
    outcomes.push_back(made.refused);
  }
  ChangeConfigs<IncrementalAlterConfigsResponse>(context, in, version, std::move(respond),
                                                 std::move(changes), std::move(outcomes));
  return absl::OkStatus();
}

absl::Status DeleteRecords(KafkaContext& context, const Request& request, WireReader& body,
                           Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<DeleteRecordsRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;
  // Deleting waits for each partition's strand and disk, which run on the io threads.
  asio::post(*context.blocking, [&context, in, version, respond] {
    DeleteRecordsResponse out;
    for (const DeleteRecordsTopic& topic : in->topics) {
      DeleteRecordsTopicResult& topic_out = out.topics.emplace_back();
      topic_out.name = topic.name;
      const absl::Status refused = cluster::RejectInternalTopic(topic.name, "delete records of");
      for (const DeleteRecordsPartition& p : topic.partitions) {
        DeleteRecordsPartitionResult& result = topic_out.partitions.emplace_back();
        result.partition_index = p.partition_index;
        result.low_watermark = -1;
        if (!refused.ok()) {
          result.error_code = ErrorCode(refused);
          continue;
        }
        auto partition = context.topics->GetPartition(topic.name, p.partition_index);
        if (!partition.ok()) {
          result.error_code = ErrorCode(partition.status());
          continue;
        }
        // -1 is the high watermark; any other negative offset is out of range.
        auto start = (*partition)->DeleteRecordsBefore(
            p.offset == -1 ? std::nullopt : std::optional<Offset>(Offset(p.offset)));
        result.error_code = ErrorCode(start.status());
        if (start.ok()) result.low_watermark = start->value();
      }
    }
    respond(Encode(out, version));
  });
  return absl::OkStatus();
}

absl::Status DescribeCluster(KafkaContext& context, const Request& request, WireReader& body,
                             Respond respond) {
  const int16_t version = request.header.api_version;
  DescribeClusterRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  DescribeClusterResponse out;
  if (in.endpoint_type != 1) {
    // Kafka's UNSUPPORTED_ENDPOINT_TYPE: the controllers are not reachable as a Kafka endpoint.
    out.error_code = Code(KafkaError::kUnsupportedEndpointType);
    out.error_message = "only brokers (endpoint type 1) can be described";
    respond(Encode(out, version));
    return absl::OkStatus();
  }
  out.cluster_id = context.settings.cluster_id;
  out.controller_id = ControllerIdFor(context);
  const auto image = context.controller->image();
  for (ListedBroker& b : BrokersAt(context, *image, request.listener)) {
    out.brokers.push_back({b.node_id, std::move(b.host), b.port, std::move(b.rack)});
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
