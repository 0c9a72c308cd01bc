// Kafka's request and response headers (docs/kafka.md, "Framing").
//
// Request header v0: api_key int16, api_version int16, correlation_id int32; v1 adds client_id
// (a NULLABLE_STRING, never compact); v2 adds a tagged-field section. Which version a request
// uses follows from its API and version (api.h), so the key and version are read first.
//
// Response header v0: correlation_id int32; v1 adds a tagged-field section.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "kafka/protocol/wire.h"

namespace rill::kafka {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// The key, version and correlation id of a request: enough to answer it, even with an error,
// before knowing whether the rest of its header can be read. False if fewer than 8 bytes came.
bool PeekRequestHeader(std::string_view frame, RequestHeader* header);

// Reads the whole header of `version` (1 or 2) from `reader`, which is left at the body.
RequestHeader ReadRequestHeader(WireReader& reader, int version);

void WriteRequestHeader(const RequestHeader& header, int version, WireWriter& writer);
void WriteResponseHeader(int32_t correlation_id, int version, WireWriter& writer);

}  // namespace rill::kafka
