// rill-bench: Rill's benchmark tool.
//
//   rill-bench storage [--dir DIR] [--record-bytes N] [--batch-records N] [--inflight N]
//                      [--total-mb N] [--rounds N] [--json]
#include <cstdio>
#include <string>

#include "base/fmt_absl.h"
#include "bench/storage_bench.h"

namespace {

constexpr char kUsage[] =
    "usage: rill-bench storage [options]\n"
    "  Durable appends and sequential reads of the storage engine, each beside a dd-style\n"
    "  baseline measured in the same run on the same directory.\n"
    "  --dir DIR            where to write (default: .); everything written is removed after\n"
    "  --record-bytes N     bytes per record value (default 1024)\n"
    "  --batch-records N    records per batch (default 64)\n"
    "  --inflight N         appends in flight (default 64)\n"
    "  --total-mb N         megabytes to write per round (default: 1 GiB)\n"
    "  --rounds N           baseline/append rounds, best of each reported (default 3)\n"
    "  --json               print one JSON object instead of a table\n";

bool ParseNumber(const char* text, uint64_t* out) {
  try {
    size_t used = 0;
    std::string s = text;
    *out = std::stoull(s, &used);
    return used == s.size() && !s.empty() && s[0] != '-';
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    fmt::print(argc < 2 ? stderr : stdout, "{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) != "storage") {
    fmt::print(stderr, "rill-bench: unknown benchmark '{}'\n{}", argv[1], kUsage);
    return 2;
  }
  rill::bench::StorageBenchOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--json") {
      options.json = true;
      continue;
    }
    if (flag == "--dir" && i + 1 < argc) {
      options.dir = argv[++i];
      continue;
    }
    uint64_t value = 0;
    if (i + 1 >= argc || !ParseNumber(argv[i + 1], &value)) {
      fmt::print(stderr, "rill-bench: {} needs a non-negative number\n{}", flag, kUsage);
      return 2;
    }
    ++i;
    if (flag == "--record-bytes") {
      options.record_bytes = value;
    } else if (flag == "--batch-records") {
      options.batch_records = static_cast<int>(std::min<uint64_t>(value, 1 << 20));
    } else if (flag == "--inflight") {
      options.inflight = static_cast<int>(std::min<uint64_t>(value, 1 << 20));
    } else if (flag == "--rounds") {
      options.rounds = static_cast<int>(std::min<uint64_t>(value, 100));
    } else if (flag == "--total-mb") {
      options.total_bytes = value * 1000 * 1000;
    } else {
      fmt::print(stderr, "rill-bench: unknown option {}\n{}", flag, kUsage);
      return 2;
    }
  }
  absl::Status s = rill::bench::RunStorageBench(options);
  if (!s.ok()) {
    fmt::print(stderr, "rill-bench: {}\n", s.message());
    return 1;
  }
  return 0;
}
