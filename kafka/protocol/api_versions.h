// ApiVersions (key 18), versions 0-3: the first request of most clients, which learn from it
// the versions to use for everything else (docs/kafka.md).
//
// Request: v0-v2 have an empty body; v3 adds client_software_name and
// client_software_version (COMPACT_STRING) and tagged fields.
// Response: error_code int16; api_keys [api_key int16, min_version int16, max_version int16];
// v1+ throttle_time_ms int32; v3 is flexible (compact array, tagged fields).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace rill::kafka {

struct ApiVersionsRequest {
  std::string client_software_name;
  std::string client_software_version;
};

struct ApiVersionRange {
  int16_t api_key = 0;
  int16_t min_version = 0;
  int16_t max_version = 0;
};

struct ApiVersionsResponse {
  int16_t error_code = 0;
  std::vector<ApiVersionRange> api_keys;
  int32_t throttle_time_ms = 0;
};

ApiVersionsRequest ReadApiVersionsRequest(WireReader& reader, int16_t version);
void WriteApiVersionsRequest(const ApiVersionsRequest& request, int16_t version,
                             WireWriter& writer);

ApiVersionsResponse ReadApiVersionsResponse(WireReader& reader, int16_t version);
void WriteApiVersionsResponse(const ApiVersionsResponse& response, int16_t version,
                              WireWriter& writer);

// Whether a client software name or version is what KIP-511 allows: letters, digits, '-' and
// '.', starting and ending with a letter or digit. Kafka answers INVALID_REQUEST otherwise.
bool ValidClientSoftwareField(std::string_view value);

}  // namespace rill::kafka
