// Replica placement for new partitions: spread evenly over the live brokers, by how many
// partitions each leads and how many replicas each holds, counting what the image already
// places and what this call has placed so far.
//
// Pure: no I/O, no clock.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/metadata_image.h"

namespace rill::cluster {

// Replicas for `partitions` new partitions of `replication_factor` replicas each, chosen among
// `live` (distinct, registered, unfenced brokers). The first replica of each is its leader: the
// broker leading the fewest partitions (then holding the fewest replicas, then the lowest id);
// the others are those holding the fewest replicas. INVALID_REPLICATION_FACTOR when there are
// fewer live brokers than `replication_factor`.
absl::StatusOr<std::vector<std::vector<NodeId>>> PlaceReplicas(const MetadataImage& image,
                                                               const std::vector<NodeId>& live,
                                                               int32_t partitions,
                                                               int32_t replication_factor);

}  // namespace rill::cluster
