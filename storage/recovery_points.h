// The recovery-points file of a data directory (docs/storage-format.md, "Recovery points"): for
// each log, an offset below which all of its data was on disk when the file was written, as
// Kafka's recovery-point-offset-checkpoint. After a crash, recovery may cut a log's torn tail
// only at or above its recovery point; an invalid batch below it is corruption of acknowledged
// data (DataLoss), never silently cut.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rill::storage {

inline constexpr char kRecoveryPointsFileName[] = "recovery-points";
// Bounds on what a decoder accepts, checked before anything is allocated.
inline constexpr size_t kMaxRecoveryPoints = 1000000;
inline constexpr size_t kMaxRecoveryPointsFileBytes = size_t{64} << 20;

using RecoveryPoints = std::map<std::string, int64_t>;

std::string EncodeRecoveryPoints(const RecoveryPoints& points);
// DataLoss naming `path` when the bytes are not a whole, valid file of the known version.
absl::StatusOr<RecoveryPoints> DecodeRecoveryPoints(std::string_view bytes,
                                                    const std::string& path);

}  // namespace rill::storage
