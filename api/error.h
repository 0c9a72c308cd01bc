// Typed API errors: an absl::Status that carries the exact rill.v1.ErrorCode as a payload, so
// the broker answers with the code the failing layer meant (INVALID_CONFIG rather than just
// "invalid argument") and a client can tell UNKNOWN_TOPIC from UNKNOWN_PARTITION.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "rill/v1/errors.pb.h"

namespace rill::api {

using v1::ErrorCode;

absl::Status ApiError(ErrorCode code, std::string message);

// An error (NOT_LEADER, NOT_CONTROLLER) that names the broker believed to lead (ignored when not
// a node id, as -1 is for "unknown"); SetError puts it in Error.leader_hint.
absl::Status ApiError(ErrorCode code, std::string message, int32_t leader_hint);
// The leader an error names, or -1.
int32_t LeaderHintOf(const absl::Status& status);

// The code an error carries, or one derived from its canonical code (storage errors carry none:
// DataLoss becomes STORAGE_ERROR, OutOfRange OFFSET_OUT_OF_RANGE, and so on).
ErrorCode ErrorCodeOf(const absl::Status& status);

// Fills a response's Error from a status (NONE for OK).
void SetError(const absl::Status& status, v1::Error* error);

// The status a response's Error stands for: OK for NONE, otherwise "CODE: message" with the
// code (and any leader hint) as payload.
absl::Status FromError(const v1::Error& error);

// Whether a client should retry after this error (leadership moved, timeouts, transient
// unavailability).
bool IsRetriable(const absl::Status& status);

}  // namespace rill::api
