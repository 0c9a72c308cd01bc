// Typed API errors inside the broker: an absl::Status that carries the exact rill.v1.ErrorCode
// as a payload, so a handler can answer with the code the failing layer meant (INVALID_CONFIG
// rather than just "invalid argument").
#pragma once

#include <string>

#include "absl/status/status.h"
#include "rill/v1/errors.pb.h"

namespace rill::broker {

using v1::ErrorCode;

absl::Status ApiError(ErrorCode code, std::string message);

// The code an error carries, or one derived from its canonical code (storage errors carry none:
// DataLoss becomes STORAGE_ERROR, OutOfRange OFFSET_OUT_OF_RANGE, and so on).
ErrorCode ErrorCodeOf(const absl::Status& status);

// Fills a response's Error from a status (NONE for OK).
void SetError(const absl::Status& status, v1::Error* error);

}  // namespace rill::broker
