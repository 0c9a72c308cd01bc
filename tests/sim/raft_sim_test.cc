#include "catch2/catch.hpp"
#include "tests/sim/raft_simulator.h"

namespace rill::raft::sim {
namespace {

// A bounded batch for CI (2,000 seeds, half on 3 nodes and half on 5, about a minute);
// `raft-sim --seeds N` runs more. A failure names its seed. Under the sanitizers a run is about
// 20 times slower, so that build runs 100 seeds.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kSeedsPerSize = 50;
#else
constexpr uint64_t kSeedsPerSize = 1000;
#endif

void RunSeeds(int nodes, bool partition_mode = false) {
  // Partition mode runs half as many: its settle phase is longer.
  const uint64_t seeds = partition_mode ? kSeedsPerSize / 2 : kSeedsPerSize;
  for (uint64_t i = 0; i < seeds; ++i) {
    SimOptions options;
    options.seed = 2 * i + (nodes == 3 ? 1 : 2);
    options.nodes = nodes;
    options.partition_mode = partition_mode;
    auto result = RunSimulation(options);
    INFO("replay: raft-sim --seed " << options.seed << " --nodes " << nodes
                                    << (partition_mode ? " --partition" : ""));
    REQUIRE(result.failure == "");
    REQUIRE(result.committed > 0);
  }
}

TEST_CASE("raft-sim: a seed replays exactly", "[sim]") {
  SimOptions options;
  options.seed = 12345;
  options.nodes = 5;
  const SimResult a = RunSimulation(options);
  const SimResult b = RunSimulation(options);
  REQUIRE(a.failure == "");
  CHECK(a.committed == b.committed);
  CHECK(a.elections == b.elections);
  CHECK(a.conf_changes == b.conf_changes);
  CHECK(a.snapshots == b.snapshots);
  CHECK(a.reads == b.reads);
  CHECK(a.ticks_to_elect_after_crash == b.ticks_to_elect_after_crash);
  options.seed = 12346;
  const SimResult c = RunSimulation(options);
  CHECK(c.committed != a.committed);
}

TEST_CASE("raft-sim: 3-node groups stay safe and live under faults", "[sim]") { RunSeeds(3); }

TEST_CASE("raft-sim: 5-node groups stay safe and live under faults", "[sim]") { RunSeeds(5); }

TEST_CASE(
    "raft-sim: partition groups (log as state, appends sent before the leader's own write) stay "
    "safe and live under faults",
    "[sim]") {
  RunSeeds(3, /*partition_mode=*/true);
  RunSeeds(5, /*partition_mode=*/true);
}

}  // namespace
}  // namespace rill::raft::sim
