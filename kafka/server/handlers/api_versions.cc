#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

std::string ApiVersionsBody(KafkaError error, int16_t version) {
  ApiVersionsResponse response;
  response.error_code = Code(error);
  for (const ApiSpec* api : ServedApis()) {
    response.api_keys.push_back(
        {static_cast<int16_t>(api->key), api->advertised_min_version, api->max_version});
  }
  return Encode(response, version);
}

absl::Status ApiVersions(KafkaContext&, const Request& request, WireReader& body,
                         Respond respond) {
  const int16_t version = request.header.api_version;
  ApiVersionsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  const bool valid = version < 3 || (ValidClientSoftwareField(in.client_software_name) &&
                                     ValidClientSoftwareField(in.client_software_version));
  respond(ApiVersionsBody(valid ? KafkaError::kNone : KafkaError::kInvalidRequest, version));
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
