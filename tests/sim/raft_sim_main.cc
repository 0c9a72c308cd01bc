// raft-sim: runs the Raft simulator. `raft-sim --seed S` replays one seed exactly;
// `raft-sim --seeds N [--first S]` runs N seeds and prints the first failure, if any, then the
// distributions of ticks to elect a leader.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/sim/raft_simulator.h"

namespace {

// `ticks` pairs a number of ticks with the seed that took them.
void PrintDistribution(const char* what, std::vector<std::pair<int, uint64_t>> ticks) {
  if (ticks.empty()) return;
  std::sort(ticks.begin(), ticks.end());
  auto at = [&](double q) {
    const auto i = static_cast<size_t>(q * static_cast<double>(ticks.size()));
    return ticks[std::min(ticks.size() - 1, i)].first;
  };
  std::printf(
      "ticks to elect %s: p50 %d, p90 %d, p99 %d, max %d (seed %llu); election timeout 10\n", what,
      at(0.5), at(0.9), at(0.99), ticks.back().first,
      static_cast<unsigned long long>(ticks.back().second));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t first = 1, count = 1;
  int nodes = 0;
  bool partition_mode = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--partition") {
      partition_mode = true;
      --i;
      continue;
    }
    char* end = nullptr;
    const uint64_t value = i + 1 < argc ? std::strtoull(argv[i + 1], &end, 10) : 0;
    const bool numeric = end != nullptr && *end == '\0' && end != argv[i + 1];
    if (numeric && flag == "--seed") {
      first = value;
      count = 1;
    } else if (numeric && flag == "--seeds" && value > 0) {
      count = value;
    } else if (numeric && flag == "--first") {
      first = value;
    } else if (numeric && flag == "--nodes" && (value == 3 || value == 5)) {
      nodes = static_cast<int>(value);
    } else {
      std::fprintf(stderr,
                   "usage: raft-sim [--seed S | --seeds N [--first S]] [--nodes 3|5] "
                   "[--partition]\n");
      return 2;
    }
  }
  std::vector<std::pair<int, uint64_t>> after_heal, after_crash;
  int64_t committed = 0, elections = 0, conf_changes = 0, snapshots = 0, transfers = 0, reads = 0,
          torn = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    rill::raft::sim::SimOptions options;
    options.seed = seed;
    options.nodes = nodes > 0 ? nodes : (seed % 2 == 0 ? 5 : 3);
    options.partition_mode = partition_mode;
    auto result = rill::raft::sim::RunSimulation(options);
    if (!result.ok) {
      std::printf("seed %llu (%d nodes) FAILED: %s\nreplay: raft-sim --seed %llu --nodes %d\n",
                  static_cast<unsigned long long>(seed), options.nodes, result.failure.c_str(),
                  static_cast<unsigned long long>(seed), options.nodes);
      return 1;
    }
    after_heal.emplace_back(result.ticks_to_elect_after_heal, seed);
    after_crash.emplace_back(result.ticks_to_elect_after_crash, seed);
    committed += result.committed;
    elections += result.elections;
    conf_changes += result.conf_changes;
    snapshots += result.snapshots;
    transfers += result.transfers;
    reads += result.reads;
    torn += result.torn_writes;
  }
  std::printf("%llu seed(s) clean\n", static_cast<unsigned long long>(count));
  PrintDistribution("once faults healed", after_heal);
  PrintDistribution("after the leader crashed", after_crash);
  std::printf(
      "totals: %lld entries committed, %lld elections, %lld membership changes, %lld snapshots "
      "installed, %lld transfers, %lld reads checked, %lld torn writes\n",
      static_cast<long long>(committed), static_cast<long long>(elections),
      static_cast<long long>(conf_changes), static_cast<long long>(snapshots),
      static_cast<long long>(transfers), static_cast<long long>(reads),
      static_cast<long long>(torn));
  return 0;
}
