// OffsetCommit and OffsetFetch: the committed offsets of a group, in the one store the group
// coordinator keeps for every kind of group.
#include <map>
#include <memory>

#include "api/error.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

int16_t CodeOf(const v1::Error& error) { return ErrorCode(api::FromError(error)); }

// The committed offsets of `group` for `topics` (nullopt: all of them), grouped by topic.
template <typename TopicOut, typename TopicsIn>
std::vector<TopicOut> Committed(KafkaContext& context, const std::string& group,
                                const std::optional<TopicsIn>& topics, int16_t* error_code) {
  v1::FetchOffsetsRequest fetch;
  fetch.set_group_id(group);
  if (topics.has_value()) {
    for (const auto& topic : *topics) {
      auto* wanted = fetch.add_partitions();
      wanted->set_topic(topic.name);
      for (int32_t p : topic.partition_indexes) wanted->add_partitions(p);
    }
  }
  v1::FetchOffsetsResponse fetched;
  context.coordinator->FetchOffsets(fetch, &fetched);
  *error_code = CodeOf(fetched.error());
  std::vector<TopicOut> out;
  std::map<std::string, size_t> index;
  for (const v1::CommittedOffset& committed : fetched.offsets()) {
    auto [it, added] = index.try_emplace(committed.topic(), out.size());
    if (added) out.emplace_back().name = committed.topic();
    auto& partition = out[it->second].partitions.emplace_back();
    partition.partition_index = committed.partition();
    partition.committed_offset = committed.offset();
    partition.metadata = committed.metadata();
  }
  return out;
}

}  // namespace

absl::Status OffsetCommit(KafkaContext& context, const Request& request, WireReader& body,
                          Respond respond) {
  const int16_t version = request.header.api_version;
  OffsetCommitRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  auto commit = std::make_shared<v1::CommitOffsetsRequest>();
  commit->set_group_id(in.group_id);
  commit->set_member_id(in.member_id);
  commit->set_member_epoch(in.generation_id);
  for (const OffsetCommitRequestTopic& topic : in.topics) {
    auto* topic_out = commit->add_topics();
    topic_out->set_topic(topic.name);
    for (const OffsetCommitRequestPartition& p : topic.partitions) {
      auto* partition = topic_out->add_partitions();
      partition->set_partition(p.partition_index);
      partition->set_offset(p.committed_offset);
      partition->set_metadata(p.committed_metadata.value_or(""));
    }
  }
  auto response = std::make_shared<v1::CommitOffsetsResponse>();
  context.coordinator->CommitOffsets(*commit, response.get(), [commit, response, version, respond,
                                                                in = std::move(in)] {
    // A request-wide failure answers every partition with it.
    const int16_t request_error = CodeOf(response->error());
    std::map<std::pair<std::string, int32_t>, int16_t> by_partition;
    for (const auto& p : response->partitions()) {
      by_partition[{p.topic(), p.partition()}] = CodeOf(p.error());
    }
    OffsetCommitResponse out;
    for (const OffsetCommitRequestTopic& topic : in.topics) {
      OffsetCommitResponseTopic& topic_out = out.topics.emplace_back();
      topic_out.name = topic.name;
      for (const OffsetCommitRequestPartition& p : topic.partitions) {
        auto it = by_partition.find({topic.name, p.partition_index});
        const int16_t code =
            request_error != 0 ? request_error : (it == by_partition.end() ? 0 : it->second);
        topic_out.partitions.push_back({p.partition_index, code});
      }
    }
    respond(Encode(out, version));
  });
  return absl::OkStatus();
}

absl::Status OffsetFetch(KafkaContext& context, const Request& request, WireReader& body,
                         Respond respond) {
  const int16_t version = request.header.api_version;
  OffsetFetchRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  OffsetFetchResponse out;
  if (version < 8) {
    int16_t error = 0;
    out.topics = Committed<OffsetFetchResponseTopic>(context, in.group_id, in.topics, &error);
    out.error_code = error;
    // Before v2 there is no top-level error: each partition carries it.
    if (version < 2 && error != 0) {
      for (auto& topic : out.topics) {
        for (auto& p : topic.partitions) p.error_code = error;
      }
    }
  } else {
    for (const OffsetFetchRequestGroup& group : in.groups) {
      OffsetFetchResponseGroup& group_out = out.groups.emplace_back();
      group_out.group_id = group.group_id;
      group_out.topics = Committed<OffsetFetchResponseGroupTopic>(context, group.group_id,
                                                                  group.topics, &group_out.error_code);
    }
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
