// Replica placement for new partitions: the new partitions spread evenly over the live brokers
// (as Kafka spreads a topic), and among equals the brokers that lead and hold the least in the
// whole cluster first, counting what the image already places.
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
// broker leading the fewest of the new partitions, then the fewest partitions in all, then
// holding the fewest replicas, then the lowest id; the others are those holding the fewest
// replicas of the new partitions, then in all. INVALID_REPLICATION_FACTOR when there are
// fewer live brokers than `replication_factor`.
absl::StatusOr<std::vector<std::vector<NodeId>>> PlaceReplicas(const MetadataImage& image,
                                                               const std::vector<NodeId>& live,
                                                               int32_t partitions,
                                                               int32_t replication_factor);

}  // namespace rill::cluster
