// One handler per Kafka API (handlers/*.cc): it decodes its request, calls cluster/ or
// coordinator/, and answers through `respond`, exactly once, from any thread. Wire types stop
// here: the domain below speaks strong ids, acks levels and absl::Status.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kafka/protocol/api.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/wire.h"
#include "kafka/server/context.h"

namespace rill::kafka {

// A request as the connection read it.
struct Request {
  RequestHeader header;
  const ApiSpec* api = nullptr;
  // The Kafka listener it came in on (Metadata answers with that listener's addresses).
  std::string listener;
  // The client's address, for DescribeGroups.
  std::string client_host;
};

// The encoded response body (without its header), or nullopt for none (acks=0 Produce).
using Respond = std::function<void(std::optional<std::string> body)>;

// Reads the request body from `body` (bounded by the request's entry limit) and answers.
// A non-OK status means the request could not be read: the connection is closed, as Kafka
// closes it, and `respond` is never called.
using Handler = absl::Status (*)(KafkaContext& context, const Request& request, WireReader& body,
                                 Respond respond);

// The handler of `key`; nullptr for an API with a schema but no handler yet (not advertised,
// and a request for it closes the connection).
Handler HandlerFor(ApiKey key);
// The APIs with a handler: what ApiVersions advertises.
const std::vector<const ApiSpec*>& ServedApis();

// Reads a whole request body of type `Message`: InvalidArgument if it is malformed or has
// bytes past its end.
template <typename Message>
absl::Status ReadBody(WireReader& body, int16_t version, Message* message) {
  message->Read(body, version);
  if (!body.ok()) return body.status();
  if (body.remaining() != 0) {
    return absl::InvalidArgumentError("bytes past the end of the request");
  }
  return absl::OkStatus();
}

// The encoded body of `message` at `version`.
template <typename Message>
std::string Encode(const Message& message, int16_t version) {
  std::string out;
  WireWriter writer(&out);
  message.Write(writer, version);
  return out;
}

}  // namespace rill::kafka
