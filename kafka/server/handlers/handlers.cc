#include "kafka/server/handlers/handlers.h"

namespace rill::kafka {

Handler HandlerFor(ApiKey key) {
  switch (key) {
    case ApiKey::kApiVersions:
      return handlers::ApiVersions;
    case ApiKey::kMetadata:
      return handlers::Metadata;
    case ApiKey::kProduce:
      return handlers::Produce;
    case ApiKey::kFetch:
      return handlers::Fetch;
    case ApiKey::kListOffsets:
      return handlers::ListOffsets;
    case ApiKey::kInitProducerId:
      return handlers::InitProducerId;
    case ApiKey::kFindCoordinator:
      return handlers::FindCoordinator;
    case ApiKey::kOffsetCommit:
      return handlers::OffsetCommit;
    case ApiKey::kOffsetFetch:
      return handlers::OffsetFetch;
    case ApiKey::kCreateTopics:
      return handlers::CreateTopics;
    case ApiKey::kDeleteTopics:
      return handlers::DeleteTopics;
    case ApiKey::kJoinGroup:
      return handlers::JoinGroup;
    case ApiKey::kSyncGroup:
      return handlers::SyncGroup;
    case ApiKey::kHeartbeat:
      return handlers::Heartbeat;
    case ApiKey::kLeaveGroup:
      return handlers::LeaveGroup;
    case ApiKey::kDescribeGroups:
      return handlers::DescribeGroups;
    case ApiKey::kListGroups:
      return handlers::ListGroups;
    case ApiKey::kDeleteGroups:
      return handlers::DeleteGroups;
    case ApiKey::kCreatePartitions:
      return handlers::CreatePartitions;
    case ApiKey::kDescribeConfigs:
      return handlers::DescribeConfigs;
    case ApiKey::kAlterConfigs:
      return handlers::AlterConfigs;
    case ApiKey::kIncrementalAlterConfigs:
      return handlers::IncrementalAlterConfigs;
    case ApiKey::kDeleteRecords:
      return handlers::DeleteRecords;
    case ApiKey::kDescribeCluster:
      return handlers::DescribeCluster;
    default:
      return nullptr;
  }
}

const std::vector<const ApiSpec*>& ServedApis() {
  static const auto* apis = [] {
    auto* out = new std::vector<const ApiSpec*>;
    for (const ApiSpec& api : ImplementedApis()) {
      if (HandlerFor(api.key) != nullptr) out->push_back(&api);
    }
    return out;
  }();
  return *apis;
}

}  // namespace rill::kafka
