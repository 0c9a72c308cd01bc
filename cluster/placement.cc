#include "cluster/placement.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "api/error.h"
#include "fmt/format.h"

namespace rill::cluster {

absl::StatusOr<std::vector<std::vector<NodeId>>> PlaceReplicas(const MetadataImage& image,
                                                               const std::vector<NodeId>& live,
                                                               int32_t partitions,
                                                               int32_t replication_factor) {
  if (replication_factor < 1 || static_cast<size_t>(replication_factor) > live.size()) {
    return api::ApiError(
        v1::INVALID_REPLICATION_FACTOR,
        fmt::format("replication factor {} needs as many live brokers; {} are live",
                    replication_factor, live.size()));
  }
  struct Load {
    // Of the new partitions, then of all the cluster's.
    int64_t own_leaders = 0;
    int64_t own_replicas = 0;
    int64_t leaders = 0;
    int64_t replicas = 0;
  };
  absl::flat_hash_map<NodeId, Load> load;
  for (NodeId id : live) load[id];
  for (const auto& [id, topic] : image.topics()) {
    for (const PartitionAssignment& p : topic.partitions) {
      for (NodeId replica : p.replicas) {
        if (auto it = load.find(replica); it != load.end()) ++it->second.replicas;
      }
      if (auto it = load.find(p.leader); it != load.end()) ++it->second.leaders;
    }
  }

  std::vector<NodeId> candidates = live;
  std::vector<std::vector<NodeId>> out;
  out.reserve(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    std::sort(candidates.begin(), candidates.end(), [&](NodeId a, NodeId b) {
      return std::tuple(load[a].own_leaders, load[a].leaders, load[a].replicas, a) <
             std::tuple(load[b].own_leaders, load[b].leaders, load[b].replicas, b);
    });
    std::vector<NodeId> replicas{candidates.front()};
    std::vector<NodeId> followers(candidates.begin() + 1, candidates.end());
    std::sort(followers.begin(), followers.end(), [&](NodeId a, NodeId b) {
      return std::tuple(load[a].own_replicas, load[a].replicas, a) <
             std::tuple(load[b].own_replicas, load[b].replicas, b);
    });
    replicas.insert(replicas.end(), followers.begin(),
                    followers.begin() + (replication_factor - 1));
    ++load[replicas.front()].leaders;
    ++load[replicas.front()].own_leaders;
    for (NodeId replica : replicas) {
      ++load[replica].replicas;
      ++load[replica].own_replicas;
    }
    out.push_back(std::move(replicas));
  }
  return out;
}

}  // namespace rill::cluster
