#include <atomic>
#include <memory>

#include "api/error.h"
#include "cluster/topic_names.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/common.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

// The partition a produce goes to, or why it cannot: an unknown topic is created when the
// broker creates topics on first use, and the client told to retry.
absl::StatusOr<std::shared_ptr<cluster::Partition>> Target(KafkaContext& context,
                                                          const std::string& topic,
                                                          int32_t partition) {
  if (auto s = cluster::RejectInternalTopic(topic, "produce to"); !s.ok()) return s;
  auto found = context.topics->GetPartition(topic, partition);
  if (!found.ok() && api::ErrorCodeOf(found.status()) == v1::UNKNOWN_TOPIC) {
    MaybeAutoCreate(context, topic);
  }
  return found;
}

}  // namespace

absl::Status Produce(KafkaContext& context, const Request& request, WireReader& body,
                     Respond respond) {
  const int16_t version = request.header.api_version;
  auto in = std::make_shared<ProduceRequest>();
  if (auto s = ReadBody(body, version, in.get()); !s.ok()) return s;

  struct State {
    ProduceResponse out;
    std::atomic<int> remaining{0};
  };
  auto state = std::make_shared<State>();
  // Why every partition of the request is refused, if it is.
  std::optional<std::pair<KafkaError, absl::Status>> refused;
  cluster::Acks acks = cluster::Acks::kAll;
  if (in->acks == 0) {
    acks = cluster::Acks::kNone;
  } else if (in->acks == 1) {
    acks = cluster::Acks::kLeader;
  } else if (in->acks != -1) {
    refused = {KafkaError::kInvalidRequiredAcks,
               absl::InvalidArgumentError(fmt::format("acks {} is not 0, 1 or -1", in->acks))};
  }
  if (in->transactional_id.has_value()) {
    refused = {KafkaError::kInvalidRequest,
               absl::InvalidArgumentError("transactions are not supported")};
  }
  int count = 1;
  for (const TopicProduceData& topic : in->topic_data) {
    TopicProduceResponse& topic_out = state->out.responses.emplace_back();
    topic_out.name = topic.name;
    for (const PartitionProduceData& data : topic.partition_data) {
      PartitionProduceResponse& entry = topic_out.partition_responses.emplace_back();
      entry.index = data.index;
      entry.base_offset = -1;
      ++count;
    }
  }
  state->remaining.store(count);
  const bool answer = in->acks != 0;
  auto complete_one = [state, version, respond, answer] {
    if (state->remaining.fetch_sub(1) != 1) return;
    respond(answer ? std::optional<std::string>(Encode(state->out, version)) : std::nullopt);
  };
  auto fail = [version](PartitionProduceResponse* entry, const absl::Status& status,
                        KafkaError error) {
    entry->error_code = Code(error);
    if (version >= 8) entry->error_message = std::string(status.message());
  };
  for (size_t t = 0; t < in->topic_data.size(); ++t) {
    const TopicProduceData& topic = in->topic_data[t];
    for (size_t p = 0; p < topic.partition_data.size(); ++p) {
      const PartitionProduceData& data = topic.partition_data[p];
      PartitionProduceResponse* entry = &state->out.responses[t].partition_responses[p];
      if (refused.has_value()) {
        fail(entry, refused->second, refused->first);
        complete_one();
        continue;
      }
      if (!data.records.has_value() || data.records->empty()) {
        fail(entry, absl::InvalidArgumentError("no records"), KafkaError::kCorruptMessage);
        complete_one();
        continue;
      }
      auto partition = Target(context, topic.name, data.index);
      if (!partition.ok()) {
        fail(entry, partition.status(), KafkaErrorOf(partition.status()));
        complete_one();
        continue;
      }
      const int64_t log_start = (*partition)->log_start_offset().value();
      (*partition)->Produce({*data.records}, acks,
                            [in, entry, log_start, complete_one, fail](cluster::ProduceResult r) {
                              if (!r.status.ok()) {
                                fail(entry, r.status, KafkaErrorOf(r.status));
                              } else {
                                entry->base_offset = r.base_offset.value();
                                entry->log_start_offset = log_start;
                              }
                              complete_one();
                            });
    }
  }
  complete_one();
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
