#include "catch2/catch.hpp"
#include "tests/sim/raft_simulator.h"

namespace rill::raft::sim {
namespace {

// A bounded batch for CI; `raft-sim --seeds N` runs more. A failure names its seed. Under the
// sanitizers a run is about 20 times slower, so that build runs the first 40 seeds.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kSeeds = 40;
#else
constexpr uint64_t kSeeds = 200;
#endif

TEST_CASE("raft-sim: 3- and 5-node clusters stay safe and live under faults", "[sim]") {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = seed % 2 == 0 ? 5 : 3;
    auto result = RunSimulation(options);
    INFO("replay: raft-sim --seed " << seed << " --nodes " << options.nodes);
    REQUIRE(result.failure == "");
    REQUIRE(result.committed > 0);
  }
}

}  // namespace
}  // namespace rill::raft::sim
