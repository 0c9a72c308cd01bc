#include "api/error.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace rill::api {
namespace {

constexpr char kPayloadUrl[] = "rill.v1.ErrorCode";
constexpr char kLeaderPayloadUrl[] = "rill.v1.Error.leader_hint";

absl::StatusCode CanonicalCode(ErrorCode code) {
  switch (code) {
    case v1::NONE:
      return absl::StatusCode::kOk;
    case v1::UNKNOWN_TOPIC:
    case v1::UNKNOWN_PARTITION:
      return absl::StatusCode::kNotFound;
    case v1::NOT_LEADER:
    case v1::NOT_CONTROLLER:
      return absl::StatusCode::kUnavailable;
    case v1::MESSAGE_TOO_LARGE:
      return absl::StatusCode::kResourceExhausted;
    case v1::OFFSET_OUT_OF_RANGE:
      return absl::StatusCode::kOutOfRange;
    case v1::TOPIC_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case v1::STORAGE_ERROR:
      return absl::StatusCode::kDataLoss;
    case v1::REQUEST_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case v1::UNKNOWN_SERVER_ERROR:
      return absl::StatusCode::kInternal;
    default:
      return absl::StatusCode::kInvalidArgument;
  }
}

}  // namespace

absl::Status ApiError(ErrorCode code, std::string message) {
  absl::Status status(CanonicalCode(code), message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

absl::Status ApiError(ErrorCode code, std::string message, int32_t leader_hint) {
  absl::Status status = ApiError(code, std::move(message));
  if (leader_hint > 0) {
    status.SetPayload(kLeaderPayloadUrl, absl::Cord(std::to_string(leader_hint)));
  }
  return status;
}

int32_t LeaderHintOf(const absl::Status& status) {
  auto payload = status.GetPayload(kLeaderPayloadUrl);
  if (!payload) return -1;
  int32_t leader = -1;
  return absl::SimpleAtoi(std::string(*payload), &leader) ? leader : -1;
}

ErrorCode ErrorCodeOf(const absl::Status& status) {
  if (status.ok()) return v1::NONE;
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    int code = std::stoi(std::string(*payload));
    if (v1::ErrorCode_IsValid(code)) return static_cast<ErrorCode>(code);
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return v1::CORRUPT_MESSAGE;
    case absl::StatusCode::kResourceExhausted:
      return v1::MESSAGE_TOO_LARGE;
    case absl::StatusCode::kOutOfRange:
      return v1::OFFSET_OUT_OF_RANGE;
    case absl::StatusCode::kNotFound:
      return v1::UNKNOWN_TOPIC;
    case absl::StatusCode::kDeadlineExceeded:
      return v1::REQUEST_TIMED_OUT;
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kFailedPrecondition:
      return v1::STORAGE_ERROR;
    default:
      return v1::UNKNOWN_SERVER_ERROR;
  }
}

void SetError(const absl::Status& status, v1::Error* error) {
  error->set_code(ErrorCodeOf(status));
  error->set_message(std::string(status.message()));
  error->set_leader_hint(LeaderHintOf(status));
}

absl::Status FromError(const v1::Error& error) {
  if (error.code() == v1::NONE) return absl::OkStatus();
  return ApiError(error.code(), v1::ErrorCode_Name(error.code()) + ": " + error.message(),
                  error.leader_hint());
}

bool IsRetriable(const absl::Status& status) {
  switch (ErrorCodeOf(status)) {
    case v1::NOT_LEADER:
    case v1::NOT_CONTROLLER:
    case v1::REQUEST_TIMED_OUT:
    case v1::UNKNOWN_TOPIC:
    case v1::NOT_COORDINATOR:
    case v1::COORDINATOR_NOT_AVAILABLE:
      return true;
    default:
      return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
  }
}

}  // namespace rill::api
