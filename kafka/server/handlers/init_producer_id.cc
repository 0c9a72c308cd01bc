#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

// Idempotence without transactions: every call gets a fresh producer id at epoch 0 from the
// controller's blocks, also one that names the producer's current id and epoch, as Kafka's
// coordinator answers any request without a transactional id.
absl::Status InitProducerId(KafkaContext& context, const Request& request, WireReader& body,
                            Respond respond) {
  const int16_t version = request.header.api_version;
  InitProducerIdRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  if (in.transactional_id.has_value()) {
    InitProducerIdResponse out;
    out.error_code = Code(KafkaError::kInvalidRequest);
    out.producer_epoch = -1;
    respond(Encode(out, version));
    return absl::OkStatus();
  }
  context.producer_ids->Next([version, respond](absl::StatusOr<int64_t> id) {
    InitProducerIdResponse out;
    if (!id.ok()) {
      out.error_code = ErrorCode(id.status());
      out.producer_epoch = -1;
    } else {
      out.producer_id = *id;
      out.producer_epoch = 0;
    }
    respond(Encode(out, version));
  });
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
