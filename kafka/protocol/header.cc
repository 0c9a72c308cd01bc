#include "kafka/protocol/header.h"

#include "format/big_endian.h"

namespace rill::kafka {

bool PeekRequestHeader(std::string_view frame, RequestHeader* header) {
  if (frame.size() < 8) return false;
  header->api_key = format::LoadI16(frame.data());
  header->api_version = format::LoadI16(frame.data() + 2);
  header->correlation_id = format::LoadI32(frame.data() + 4);
  return true;
}

RequestHeader ReadRequestHeader(WireReader& reader, int version) {
  RequestHeader header;
  header.api_key = reader.Int16();
  header.api_version = reader.Int16();
  header.correlation_id = reader.Int32();
  if (version >= 1) {
    // The client id stays a non-compact string even in header v2, for old brokers' sake.
    if (auto id = reader.NullableString(/*compact=*/false)) header.client_id = std::string(*id);
  }
  if (version >= 2) reader.SkipTaggedFields();
  return header;
}

void WriteRequestHeader(const RequestHeader& header, int version, WireWriter& writer) {
  writer.Int16(header.api_key);
  writer.Int16(header.api_version);
  writer.Int32(header.correlation_id);
  if (version >= 1) {
    writer.NullableString(header.client_id ? std::optional<std::string_view>(*header.client_id)
                                           : std::nullopt,
                          /*compact=*/false);
  }
  if (version >= 2) writer.NoTaggedFields();
}

void WriteResponseHeader(int32_t correlation_id, int version, WireWriter& writer) {
  writer.Int32(correlation_id);
  if (version >= 1) writer.NoTaggedFields();
}

}  // namespace rill::kafka
