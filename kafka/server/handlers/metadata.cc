#include <set>

#include "api/error.h"
#include "cluster/topic_names.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/common.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

MetadataResponseTopic DescribeTopic(KafkaContext& context, const cluster::MetadataImage& image,
                                    const cluster::TopicInfo& info) {
  MetadataResponseTopic topic;
  topic.name = info.name;
  topic.topic_id = UuidOf(info.id);
  topic.is_internal = cluster::IsInternalTopic(info.name);
  for (int32_t p = 0; p < static_cast<int32_t>(info.partitions.size()); ++p) {
    const cluster::PartitionAssignment& assignment = info.partitions[static_cast<size_t>(p)];
    MetadataResponsePartition partition;
    partition.partition_index = p;
    for (NodeId replica : assignment.replicas) {
      partition.replica_nodes.push_back(replica.value());
      const cluster::BrokerInfo* broker = image.Broker(replica);
      if (broker == nullptr || broker->fenced) partition.offline_replicas.push_back(replica.value());
    }
    if (const auto view = context.topics->KnownLeader(info.name, p, image)) {
      partition.leader_id = view->leader.value();
      partition.leader_epoch = static_cast<int32_t>(view->epoch);
      for (NodeId replica : view->in_sync) partition.isr_nodes.push_back(replica.value());
    } else {
      partition.error_code = Code(KafkaError::kLeaderNotAvailable);
      partition.leader_id = -1;
    }
    topic.partitions.push_back(std::move(partition));
  }
  return topic;
}

}  // namespace

absl::Status Metadata(KafkaContext& context, const Request& request, WireReader& body,
                      Respond respond) {
  const int16_t version = request.header.api_version;
  MetadataRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  const auto image = context.controller->image();
  MetadataResponse out;
  for (ListedBroker& b : BrokersAt(context, *image, request.listener)) {
    out.brokers.push_back({b.node_id, std::move(b.host), b.port, std::move(b.rack)});
  }
  out.cluster_id = context.settings.cluster_id;
  out.controller_id = ControllerIdFor(context);

  // A null list is every topic; so is an empty one in v0.
  if (!in.topics.has_value() || (version == 0 && in.topics->empty())) {
    for (const auto& [id, info] : image->topics()) {
      out.topics.push_back(DescribeTopic(context, *image, info));
    }
  } else {
    std::set<std::string> seen;
    for (const MetadataRequestTopic& wanted : *in.topics) {
      const cluster::TopicInfo* info = nullptr;
      if (wanted.name.has_value()) {
        info = image->TopicByName(*wanted.name);
      } else {
        info = image->Topic(TopicIdOf(wanted.topic_id));
      }
      if (info != nullptr) {
        if (seen.insert(info->name).second) out.topics.push_back(DescribeTopic(context, *image, *info));
        continue;
      }
      MetadataResponseTopic missing;
      missing.name = wanted.name;
      missing.topic_id = wanted.topic_id;
      if (!wanted.name.has_value()) {
        missing.error_code = Code(KafkaError::kUnknownTopicId);
      } else if (!cluster::ValidateTopicName(*wanted.name).ok()) {
        missing.error_code = Code(KafkaError::kInvalidTopicException);
      } else if (!context.serving()) {
        // A broker still catching up (just restarted) may not know a topic that exists; a
        // client told UNKNOWN_TOPIC_OR_PARTITION would fail its records for good.
        missing.error_code = Code(KafkaError::kLeaderNotAvailable);
      } else if (in.allow_auto_topic_creation && MaybeAutoCreate(context, *wanted.name)) {
        missing.error_code = Code(KafkaError::kLeaderNotAvailable);
      } else {
        missing.error_code = Code(KafkaError::kUnknownTopicOrPartition);
      }
      out.topics.push_back(std::move(missing));
    }
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
