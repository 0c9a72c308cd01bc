// raft-sim: runs the Raft simulator. `raft-sim --seed S` replays one seed exactly;
// `raft-sim --seeds N [--first S]` runs N seeds and prints the first failure, if any.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "tests/sim/raft_simulator.h"

int main(int argc, char** argv) {
  uint64_t first = 1, count = 1;
  int nodes = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const uint64_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--seed") {
      first = value;
      count = 1;
    } else if (flag == "--seeds") {
      count = value;
    } else if (flag == "--first") {
      first = value;
    } else if (flag == "--nodes") {
      nodes = static_cast<int>(value);
    } else {
      std::fprintf(stderr, "usage: raft-sim [--seed S | --seeds N [--first S]] [--nodes 3|5]\n");
      return 2;
    }
  }
  std::map<int, int> elect;
  int64_t committed = 0, elections = 0, conf_changes = 0, snapshots = 0, transfers = 0, reads = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    rill::raft::sim::SimOptions options;
    options.seed = seed;
    options.nodes = nodes > 0 ? nodes : (seed % 2 == 0 ? 5 : 3);
    auto result = rill::raft::sim::RunSimulation(options);
    if (!result.ok) {
      std::printf("seed %llu (%d nodes) FAILED: %s\nreplay: raft-sim --seed %llu --nodes %d\n",
                  static_cast<unsigned long long>(seed), options.nodes, result.failure.c_str(),
                  static_cast<unsigned long long>(seed), options.nodes);
      return 1;
    }
    ++elect[result.ticks_to_elect_after_heal];
    committed += result.committed;
    elections += result.elections;
    conf_changes += result.conf_changes;
    snapshots += result.snapshots;
    transfers += result.transfers;
    reads += result.reads;
  }
  std::printf("%llu seed(s) clean. ticks to elect a leader after faults healed:",
              static_cast<unsigned long long>(count));
  for (const auto& [ticks, n] : elect) std::printf(" %d:%d", ticks, n);
  std::printf(
      "\ntotals: %lld entries committed, %lld elections, %lld membership changes, %lld snapshots "
      "installed, %lld transfers, %lld reads checked\n",
      static_cast<long long>(committed), static_cast<long long>(elections),
      static_cast<long long>(conf_changes), static_cast<long long>(snapshots),
      static_cast<long long>(transfers), static_cast<long long>(reads));
  return 0;
}
