// The identity of a data directory: which cluster and which node it belongs to, recorded in
// `<data.dir>/meta.properties` when the directory is formatted (as Kafka's meta.properties).
// A broker refuses a data directory of another node or, when it is told its cluster id, of
// another cluster: data of one broker must never be served as another's.
//
// Format (docs/operations.md), text, version 1:
//   # rill-broker data directory: do not edit
//   version=1
//   cluster.id=<1-64 characters of [A-Za-z0-9_-]>
//   node.id=<1..2147483647>
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace rill::broker {

inline constexpr char kDataDirIdentityFile[] = "meta.properties";

struct DataDirIdentity {
  std::string cluster_id;
  int32_t node_id = 0;
  // Whether this start formatted the directory.
  bool formatted = false;
};

// A new cluster id: 16 random bytes in URL-safe base64 without padding (22 characters, as
// Kafka's).
std::string NewClusterId();
// InvalidArgument unless 1-64 characters of [A-Za-z0-9_-].
absl::Status ValidateClusterId(const std::string& id);

// Reads the identity of `data_dir`, or formats it (writing the file durably) when there is none:
// with `cluster_id` if given, else a new one. FailedPrecondition naming both sides when the
// directory belongs to another node or another cluster; DataLoss when the file is damaged.
absl::StatusOr<DataDirIdentity> LoadOrFormatDataDir(const std::string& data_dir, int32_t node_id,
                                                    const std::string& cluster_id);

}  // namespace rill::broker
