// Kafka's API keys and what Rill's Kafka listener knows of each: the versions it implements
// and the first "flexible" version (compact types and tagged fields), which also decides the
// request header version (docs/kafka.md, "Versions").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace rill::kafka {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kDescribeConfigs = 32,
  kAlterConfigs = 33,
  kCreatePartitions = 37,
  kDeleteGroups = 42,
  kIncrementalAlterConfigs = 44,
  kDescribeCluster = 60,
};

struct ApiSpec {
  ApiKey key;
  const char* name;
  // The versions the listener implements, inclusive.
  int16_t min_version;
  int16_t max_version;
  // The first version with compact types and tagged fields.
  int16_t first_flexible_version;
  // The lowest version ApiVersions advertises. Below min_version for the APIs whose old
  // versions clients check for although they never send them (librdkafka refuses a broker that
  // does not list Produce v0, as Kafka 4.0 found); a request of such a version is refused
  // when it comes.
  int16_t advertised_min_version;

  bool Supports(int16_t version) const {
    return version >= min_version && version <= max_version;
  }
  bool Flexible(int16_t version) const { return version >= first_flexible_version; }
};

// The APIs the listener implements (those with a schema in schemas/), by key; ApiVersions
// advertises exactly these.
const std::vector<ApiSpec>& ImplementedApis();
// The one for `key`, or nullptr for a key the listener does not implement.
const ApiSpec* FindApi(int16_t key);

// Request header v1 (client id) or v2 (and tagged fields) for `version` of `api`.
int RequestHeaderVersion(const ApiSpec& api, int16_t version);
// Response header v0 (correlation id) or v1 (and tagged fields). ApiVersions always answers
// with v0, so that a client can read the answer whatever version it asked for.
int ResponseHeaderVersion(const ApiSpec& api, int16_t version);

// Whether a client software name or version is what KIP-511 allows: letters, digits, '-' and
// '.', starting and ending with a letter or digit. Kafka answers INVALID_REQUEST otherwise.
bool ValidClientSoftwareField(std::string_view value);

}  // namespace rill::kafka
