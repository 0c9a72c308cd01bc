#include "catch2/catch.hpp"
#include "tests/sim/raft_simulator.h"

namespace rill::raft::sim {
namespace {

// A bounded batch for CI; `raft-sim --seeds N` runs more. A failure names its seed.
TEST_CASE("raft-sim: 3- and 5-node clusters stay safe and live under faults", "[sim]") {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
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
