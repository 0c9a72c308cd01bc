// The handler of each API the listener serves (handler.h describes the contract).
#pragma once

#include <string>

#include "kafka/server/errors.h"
#include "kafka/server/handler.h"

namespace rill::kafka::handlers {

// An ApiVersions response body listing the served APIs. A request of a version the listener
// lacks gets error 35 in a v0 body.
std::string ApiVersionsBody(KafkaError error, int16_t version);

absl::Status ApiVersions(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status Metadata(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status Produce(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status Fetch(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status ListOffsets(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status InitProducerId(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status FindCoordinator(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status OffsetCommit(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status OffsetFetch(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status CreateTopics(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DeleteTopics(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status JoinGroup(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status SyncGroup(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status Heartbeat(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status LeaveGroup(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DescribeGroups(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status ListGroups(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DeleteGroups(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status CreatePartitions(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DescribeConfigs(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status AlterConfigs(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status IncrementalAlterConfigs(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DeleteRecords(KafkaContext&, const Request&, WireReader&, Respond);
absl::Status DescribeCluster(KafkaContext&, const Request&, WireReader&, Respond);

}  // namespace rill::kafka::handlers
