#include "kafka/protocol/api_versions.h"

namespace rill::kafka {

namespace {
constexpr int16_t kFirstFlexible = 3;
// An ApiVersion entry: three int16 (and a tagged-field count when flexible).
constexpr size_t kEntryBytesMin = 6;
}  // namespace

ApiVersionsRequest ReadApiVersionsRequest(WireReader& reader, int16_t version) {
  ApiVersionsRequest request;
  if (version >= kFirstFlexible) {
    request.client_software_name = std::string(reader.String(/*compact=*/true));
    request.client_software_version = std::string(reader.String(/*compact=*/true));
    reader.SkipTaggedFields();
  }
  return request;
}

void WriteApiVersionsRequest(const ApiVersionsRequest& request, int16_t version,
                             WireWriter& writer) {
  if (version < kFirstFlexible) return;
  writer.String(request.client_software_name, /*compact=*/true);
  writer.String(request.client_software_version, /*compact=*/true);
  writer.NoTaggedFields();
}

ApiVersionsResponse ReadApiVersionsResponse(WireReader& reader, int16_t version) {
  const bool flexible = version >= kFirstFlexible;
  ApiVersionsResponse response;
  response.error_code = reader.Int16();
  const int32_t count = reader.ArrayLength(flexible, kEntryBytesMin);
  for (int32_t i = 0; i < count && reader.ok(); ++i) {
    ApiVersionRange range;
    range.api_key = reader.Int16();
    range.min_version = reader.Int16();
    range.max_version = reader.Int16();
    if (flexible) reader.SkipTaggedFields();
    response.api_keys.push_back(range);
  }
  if (version >= 1) response.throttle_time_ms = reader.Int32();
  if (flexible) reader.SkipTaggedFields();
  return response;
}

void WriteApiVersionsResponse(const ApiVersionsResponse& response, int16_t version,
                              WireWriter& writer) {
  const bool flexible = version >= kFirstFlexible;
  writer.Int16(response.error_code);
  writer.ArrayLength(static_cast<int32_t>(response.api_keys.size()), flexible);
  for (const ApiVersionRange& range : response.api_keys) {
    writer.Int16(range.api_key);
    writer.Int16(range.min_version);
    writer.Int16(range.max_version);
    if (flexible) writer.NoTaggedFields();
  }
  if (version >= 1) writer.Int32(response.throttle_time_ms);
  if (flexible) writer.NoTaggedFields();
}

bool ValidClientSoftwareField(std::string_view value) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (value.empty() || !alnum(value.front()) || !alnum(value.back())) return false;
  for (char c : value) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace rill::kafka
