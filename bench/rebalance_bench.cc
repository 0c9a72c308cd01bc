// rill-bench rebalance: how quickly a consumer group reacts to members coming and going, with
// records flowing. Measures (1) from a new member's Subscribe to its first assigned partitions
// and (2) from SIGKILLing a member (a separate process) until every partition it owned is read
// again by the others, which the broker's group.consumer.session.timeout.ms dominates.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "base/fmt_absl.h"
#include "bench/broker_bench.h"
#include "rill/consumer.h"
#include "rill/producer.h"

namespace rill::bench {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

ConsumerOptions MemberOptions(const BrokerBenchOptions& o) {
  ConsumerOptions options;
  options.client = ClientOptions{o.brokers, 30000};
  options.group_id = o.group;
  options.auto_offset_reset = OffsetReset::kLatest;
  options.auto_commit_interval_ms = 1000;
  return options;
}

// When each partition was last read by the in-process members.
class LastRead {
 public:
  void Touch(int32_t partition) {
    absl::MutexLock lock(&mu_);
    last_[partition] = Clock::now();
  }
  Clock::time_point Get(int32_t partition) {
    absl::MutexLock lock(&mu_);
    auto it = last_.find(partition);
    return it == last_.end() ? Clock::time_point{} : it->second;
  }

 private:
  absl::Mutex mu_;
  std::map<int32_t, Clock::time_point> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int RunBenchMember(const BrokerBenchOptions& o) {
  auto consumer = Consumer::Create(MemberOptions(o));
  if (!consumer.ok()) return 1;
  RebalanceListener listener;
  listener.on_assigned = [&](const std::vector<TopicPartition>&) {
    std::string line = "assigned ";
    for (const auto& tp : (*consumer)->Assignment()) line += std::to_string(tp.partition) + ",";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  if (!(*consumer)->Subscribe({o.topic}, listener).ok()) return 1;
  while (true) (void)(*consumer)->Poll(200);
}

absl::Status RunRebalanceBench(const BrokerBenchOptions& o, const std::string& self_exe,
                               const std::atomic<bool>& interrupted) {
  if (o.group.empty()) return absl::InvalidArgumentError("rebalance needs --group");
  int partitions = 0;
  if (auto s = EnsureTopic(o, &partitions); !s.ok()) return s;
  const int64_t rate = o.rate > 0 ? o.rate : 10000;

  std::atomic<bool> stop{false};
  std::thread producer([&] {
    ProducerOptions options;
    options.client = ClientOptions{o.brokers, 30000};
    options.linger_ms = 2;
    auto p = Producer::Create(options);
    if (!p.ok()) return;
    const auto start = Clock::now();
    for (int64_t i = 0; !stop; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / rate));
      (void)(*p)->Send(
          ProducerRecord{o.topic, std::nullopt, std::string(o.record_bytes, 'r'), {}, {}, {}});
    }
    (*p)->Close();
  });

  LastRead last_read;
  std::vector<std::unique_ptr<Consumer>> members;
  std::vector<std::thread> pollers;
  std::atomic<int> assigned_events{0};
  Clock::time_point joiner_subscribed;
  std::atomic<double> join_ms{-1};
  auto add_member = [&](bool is_joiner) -> absl::Status {
    auto consumer = Consumer::Create(MemberOptions(o));
    if (!consumer.ok()) return consumer.status();
    Consumer* raw = consumer->get();
    RebalanceListener listener;
    listener.on_assigned = [&, is_joiner](const std::vector<TopicPartition>& tps) {
      ++assigned_events;
      if (is_joiner && !tps.empty() && join_ms.load() < 0) join_ms = MsSince(joiner_subscribed);
    };
    if (is_joiner) joiner_subscribed = Clock::now();
    if (auto s = raw->Subscribe({o.topic}, listener); !s.ok()) return s;
    members.push_back(std::move(*consumer));
    pollers.emplace_back([&, raw] {
      while (!stop) {
        auto records = raw->Poll(100);
        if (!records.ok()) continue;
        for (const auto& r : *records) last_read.Touch(r.partition);
      }
    });
    return absl::OkStatus();
  };
  auto wait_until = [&](const std::function<bool()>& done, int seconds) {
    const auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (!done() && Clock::now() < deadline && !interrupted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done() || interrupted;
  };
  // The pauses between phases, cut short by Ctrl-C.
  auto pause = [&](int seconds) { wait_until([] { return false; }, seconds); };

  absl::Status status;
  const int base = std::max(1, o.consumers);
  for (int i = 0; i < base && status.ok(); ++i) status = add_member(false);
  if (status.ok() && !wait_until([&] { return assigned_events.load() >= 1; }, 60)) {
    status = absl::DeadlineExceededError("the group never assigned partitions");
  }
  if (status.ok() && !interrupted) {
    fmt::print(stderr, "{} member(s) own the partitions; a member joins in 2 s\n", base);
  }
  pause(2);
  // (1) A member joins.
  if (status.ok() && !interrupted) status = add_member(true);
  if (status.ok() && !interrupted && !wait_until([&] { return join_ms.load() >= 0; }, 60)) {
    status = absl::DeadlineExceededError("the new member never received partitions");
  }
  if (status.ok() && !interrupted) {
    fmt::print(stderr, "the joining member received partitions after {:.1f} ms\n", join_ms.load());
  }
  pause(2);

  // (2) A member in its own process joins, takes partitions, and is killed.
  double failover_ms = -1;
  std::set<int32_t> orphaned;
  if (status.ok() && !interrupted) {
    int fds[2];
    if (pipe(fds) != 0) return absl::InternalError("pipe failed");
    const std::string topic = o.topic;
    pid_t child = fork();
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(self_exe.c_str(), self_exe.c_str(), "member", "--brokers", o.brokers.c_str(), "--group",
            o.group.c_str(), "--topic", topic.c_str(), nullptr);
      _exit(127);
    }
    close(fds[1]);
    // Its last "assigned" line, once it owns something and has held it for a moment.
    FILE* out = fdopen(fds[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, out) != nullptr) {
      std::string text(line);
      if (text.rfind("assigned ", 0) != 0) continue;
      orphaned.clear();
      std::stringstream in(text.substr(9));
      std::string p;
      while (std::getline(in, p, ',')) {
        if (!p.empty() && p != "\n") orphaned.insert(std::stoi(p));
      }
      if (!orphaned.empty()) break;
    }
    pause(2);
    const auto killed = Clock::now();
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::fclose(out);
    if (!interrupted) fmt::print(stderr, "member process SIGKILLed\n");
    if (interrupted) {
      orphaned.clear();
    } else if (orphaned.empty()) {
      status = absl::InternalError("the member process never received partitions");
    } else if (!wait_until(
                   [&] {
                     for (int32_t p : orphaned) {
                       if (last_read.Get(p) <= killed) return false;
                     }
                     return true;
                   },
                   300)) {
      status = absl::DeadlineExceededError("a killed member's partitions were never read again");
    } else if (!interrupted) {
      failover_ms = MsSince(killed);
    }
  }
  stop = true;
  producer.join();
  for (auto& t : pollers) t.join();
  for (auto& m : members) m->Close();
  if (!status.ok()) return status;

  if (o.json) {
    fmt::print(
        "{{\"bench\":\"rebalance\",\"topic\":\"{}\",\"partitions\":{},\"members\":{},"
        "\"rate\":{},\"join_ms\":{:.1f},\"crash_to_consumed_ms\":{:.1f},\"orphaned\":{},"
        "\"interrupted\":{}}}\n",
        o.topic, partitions, base, rate, join_ms.load(), failover_ms, orphaned.size(),
        interrupted.load());
  } else {
    fmt::print(
        "rill-bench rebalance: group {} on {} ({} partitions), {} member(s), {} records/s{}\n",
        o.group, o.topic, partitions, base, rate, interrupted ? " (interrupted)" : "");
    if (join_ms.load() >= 0) {
      fmt::print("  a joining member received partitions after {:.1f} ms\n", join_ms.load());
    } else {
      fmt::print("  a joining member: not measured (interrupted)\n");
    }
    if (failover_ms >= 0) {
      fmt::print(
          "  a SIGKILLed member's {} partition(s) were read again after {:.1f} ms (bounded by the "
          "broker's group.consumer.session.timeout.ms)\n",
          orphaned.size(), failover_ms);
    } else {
      fmt::print("  a SIGKILLed member's partitions: not measured (interrupted)\n");
    }
  }
  return absl::OkStatus();
}

}  // namespace rill::bench
