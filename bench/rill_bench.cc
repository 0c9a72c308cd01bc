// rill-bench: Rill's benchmark tool. See kUsage.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "base/allocator.h"
#include "base/fmt_absl.h"
#include "bench/broker_bench.h"
#include "bench/storage_bench.h"
#include "rill/version.h"

namespace {

std::atomic<bool> g_interrupted{false};

constexpr char kUsage[] =
    "usage: rill-bench MODE [options]\n"
    "\n"
    "rill-bench storage   durable appends and reads of the storage engine, each beside a\n"
    "                     dd-style baseline measured in the same run on the same directory\n"
    "  --dir DIR  --record-bytes N (1024)  --batch-records N (64)  --inflight N (64)\n"
    "  --total-mb N (1000; MB, 10^6 bytes)  --rounds N (3)  --json\n"
    "\n"
    "rill-bench produce   producers against a running broker: records/s, MB/s, ack latency\n"
    "rill-bench consume   consumers read the topic from the beginning to its end (or\n"
    "                     --records): records/s, MB/s, and how much there was\n"
    "rill-bench e2e       both at once: end-to-end latency from the send time in each record\n"
    "rill-bench rebalance records flow at --rate (10000) while a member joins --consumers\n"
    "                     members of --group, then one in its own process is SIGKILLed: time\n"
    "                     until the joiner gets partitions and until the victim's are read again\n"
    "  --brokers LIST (127.0.0.1:9290)  --topic NAME (rill-bench)  --partitions N (6, if created)\n"
    "  --replication-factor N (1, if created; a cluster run: several --brokers, R=3)\n"
    "  --record-bytes N (1024)  --records N (1000000)  --duration-s N (0: until --records)\n"
    "  --producers N (1)  --consumers N (1)  --acks all|leader|none (all)  --rate N (0: max)\n"
    "  --idempotence on|off (on; with acks all)  --max-in-flight N (5; requests per partition)\n"
    "  --linger-ms N (5)  --batch-bytes N (65536)\n"
    "  --group NAME            consume/e2e: consumers join this consumer group (a new name per\n"
    "                          run) instead of splitting the partitions among themselves\n"
    "  --compare-storage DIR   produce: also measure the storage engine's direct durable append\n"
    "                          in DIR (put it on the broker's disk), in the same run\n"
    "  --json                  one JSON summary on stdout (progress goes to stderr)\n";

bool ParseNumber(const std::string& text, uint64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoull(text, &used);
    return used == text.size() && !text.empty() && text[0] != '-';
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  rill::base::TuneAllocatorForLargeBuffers();
  // As in the broker: Debian's Abseil records every lock order otherwise, which the client's
  // hot path pays for.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    fmt::print(argc < 2 ? stderr : stdout, "{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    fmt::print("rill-bench {}\n", RILL_VERSION_STRING);
    return 0;
  }
  const std::string mode = argv[1];
  rill::bench::StorageBenchOptions storage;
  rill::bench::BrokerBenchOptions broker;
  broker.mode = mode;
  using Setter = std::function<void(const std::string&)>;
  auto number = [](auto* field) -> std::pair<bool, Setter> {
    return {true, [field](const std::string& v) {
              uint64_t n = 0;
              ParseNumber(v, &n);
              *field = static_cast<std::remove_reference_t<decltype(*field)>>(n);
            }};
  };
  auto text = [](std::string* field) -> std::pair<bool, Setter> {
    return {false, [field](const std::string& v) { *field = v; }};
  };
  std::map<std::string, std::pair<bool, Setter>> flags;
  if (mode == "storage") {
    flags = {{"--dir", text(&storage.dir)},
             {"--record-bytes", number(&storage.record_bytes)},
             {"--batch-records", number(&storage.batch_records)},
             {"--inflight", number(&storage.inflight)},
             {"--total-mb",
              {true,
               [&](const std::string& v) {
                 uint64_t n = 0;
                 ParseNumber(v, &n);
                 storage.total_bytes = n * 1000 * 1000;  // MB, as every figure printed
               }}},
             {"--rounds", number(&storage.rounds)}};
  } else if (mode == "produce" || mode == "consume" || mode == "e2e" || mode == "rebalance" ||
             mode == "member") {
    flags = {{"--brokers", text(&broker.brokers)},
             {"--topic", text(&broker.topic)},
             {"--partitions", number(&broker.partitions)},
             {"--replication-factor", number(&broker.replication_factor)},
             {"--record-bytes", number(&broker.record_bytes)},
             {"--records", number(&broker.records)},
             {"--duration-s", number(&broker.duration_s)},
             {"--producers", number(&broker.producers)},
             {"--consumers", number(&broker.consumers)},
             {"--acks", text(&broker.acks)},
             {"--idempotence", text(&broker.idempotence)},
             {"--rate", number(&broker.rate)},
             {"--linger-ms", number(&broker.linger_ms)},
             {"--max-in-flight", number(&broker.max_in_flight)},
             {"--batch-bytes", number(&broker.batch_bytes)},
             {"--compare-storage", text(&broker.compare_storage_dir)},
             {"--group", text(&broker.group)}};
  } else {
    fmt::print(stderr, "rill-bench: unknown mode '{}'\n{}", mode, kUsage);
    return 2;
  }
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--json") {
      json = true;
      continue;
    }
    auto it = flags.find(flag);
    if (it == flags.end()) {
      fmt::print(stderr, "rill-bench: unknown option {} for {}\n{}", flag, mode, kUsage);
      return 2;
    }
    uint64_t unused = 0;
    if (i + 1 >= argc || (it->second.first && !ParseNumber(argv[i + 1], &unused))) {
      fmt::print(stderr, "rill-bench: {} needs {}\n", flag,
                 it->second.first ? "a non-negative number" : "a value");
      return 2;
    }
    it->second.second(argv[++i]);
  }
  if (broker.acks != "all" && broker.acks != "leader" && broker.acks != "none") {
    fmt::print(stderr, "rill-bench: --acks is all, leader or none\n");
    return 2;
  }
  storage.json = json;
  broker.json = json;
  if (mode == "member") return rill::bench::RunBenchMember(broker);
  absl::Status s;
  // Ctrl-C ends a run early and the summary still prints what was measured (but a member
  // process of rebalance just dies).
  auto summarize_on_interrupt = []() {
    std::signal(SIGINT, [](int) { g_interrupted = true; });
    std::signal(SIGTERM, [](int) { g_interrupted = true; });
  };
  storage.interrupted = &g_interrupted;
  if (mode == "storage") {
    summarize_on_interrupt();
    s = rill::bench::RunStorageBench(storage);
  } else if (mode == "rebalance") {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    summarize_on_interrupt();
    s = n > 0 ? rill::bench::RunRebalanceBench(broker, std::string(self, static_cast<size_t>(n)),
                                               g_interrupted)
              : absl::InternalError("cannot find this program's path in /proc/self/exe");
  } else {
    summarize_on_interrupt();
    s = rill::bench::RunBrokerBench(broker, g_interrupted);
  }
  if (!s.ok()) {
    fmt::print(stderr, "rill-bench: {}\n", s.message());
    return 1;
  }
  return 0;
}
