// libFuzzer target: one Kafka request frame (without its size prefix), read as the listener's
// connection reads it: the peeked header, the API and version checks, the full header, then
// the body by the API's schema, under the listener's entry limit. Reading must never crash,
// overflow or allocate past what the bytes can hold; an error is a fine outcome.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kafka/protocol/api.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/messages.h"
#include "kafka/protocol/wire.h"

namespace {

// The broker's default max.request.entries.
constexpr size_t kMaxEntries = 100000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rill::kafka;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  RequestHeader peeked;
  if (!PeekRequestHeader(frame, &peeked)) return 0;
  const ApiSpec* api = FindApi(peeked.api_key);
  if (api == nullptr || !api->Supports(peeked.api_version)) return 0;
  WireReader reader(frame, kMaxEntries);
  ReadRequestHeader(reader, RequestHeaderVersion(*api, peeked.api_version));
  if (!reader.ok()) return 0;
  (void)ReadRequestBody(peeked.api_key, peeked.api_version, reader);
  return 0;
}
