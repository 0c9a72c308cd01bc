// rillctl partition ...: moving a partition's leadership and replicas; rillctl broker
// decommission|recommission: draining a broker of its replicas.
#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

int TransferLeader(const Context& ctx, const ParsedArgs& args) {
  const std::string& topic = args.positionals()[0];
  const auto partition =
      static_cast<int32_t>(ParseInt("PARTITION", args.positionals()[1], 0, INT32_MAX));
  auto to = args.Value("--to");
  if (!to) throw UsageError{"partition transfer-leader needs --to BROKER"};
  const auto broker = static_cast<int32_t>(ParseInt("--to", *to, 1, INT32_MAX));
  auto timeout = args.Value("--timeout-ms");
  const int timeout_ms =
      timeout ? static_cast<int>(ParseInt("--timeout-ms", *timeout, 100, 3600000)) : 10000;
  Check(MakeAdmin(ctx)->TransferLeadership(topic, partition, broker, timeout_ms));
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"partition\":{},\"leader\":{}}}\n", JsonString(topic), partition,
               broker);
  } else {
    fmt::print("broker {} now leads {}-{}\n", broker, topic, partition);
  }
  return 0;
}

std::string Throttle(int64_t bytes_per_second) {
  if (bytes_per_second == 0) return "none";
  return fmt::format("{:.1f} MiB/s", static_cast<double>(bytes_per_second) / (1 << 20));
}

// Where a move stands, in a few words, from its leader's report.
std::string MoveState(const PartitionReassignment& r) {
  if (r.leader < 0) return "leader changing";
  std::vector<std::string> parts;
  for (int32_t node : r.target_replicas) {
    const ReplicaMoveProgress* member = nullptr;
    for (const auto& m : r.members) {
      if (m.node_id == node) member = &m;
    }
    if (member == nullptr || (!member->voter && !member->learner)) {
      parts.push_back(fmt::format("broker {} joining", node));
    } else if (member->learner) {
      const double done = r.leader_end_offset > 0 ? 100.0 * static_cast<double>(
                                                                member->matched_offset) /
                                                        static_cast<double>(r.leader_end_offset)
                                                  : 100.0;
      parts.push_back(fmt::format("broker {} copying {}/{} ({:.0f}%)", node,
                                  member->matched_offset, r.leader_end_offset, done));
    }
  }
  for (const auto& m : r.members) {
    const bool leaving = std::find(r.target_replicas.begin(), r.target_replicas.end(),
                                   m.node_id) == r.target_replicas.end();
    if (leaving && (m.voter || m.learner)) parts.push_back(fmt::format("broker {} leaving", m.node_id));
  }
  if (parts.empty()) return "finishing";
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

int ReassignStatus(const Context& ctx, const ParsedArgs& args) {
  const std::string topic = args.positionals().empty() ? "" : args.positionals()[0];
  std::optional<int32_t> partition;
  if (args.positionals().size() > 1) {
    partition = static_cast<int32_t>(ParseInt("PARTITION", args.positionals()[1], 0, INT32_MAX));
  }
  auto moves = Check(MakeAdmin(ctx)->ListReassignments(topic));
  std::erase_if(moves, [&](const auto& r) { return partition && r.partition != *partition; });
  if (ctx.json) {
    std::string out;
    for (const auto& r : moves) {
      std::string members;
      for (const auto& m : r.members) {
        members += fmt::format(
            "{}{{\"node_id\":{},\"role\":\"{}\",\"matched_offset\":{}}}", members.empty() ? "" : ",",
            m.node_id, m.voter ? "voter" : m.learner ? "learner" : "none", m.matched_offset);
      }
      out += fmt::format(
          "{}{{\"topic\":{},\"partition\":{},\"replicas\":[{}],\"target_replicas\":[{}],"
          "\"throttle_bytes_per_second\":{},\"leader\":{},\"leader_end_offset\":{},"
          "\"members\":[{}],\"state\":{}}}",
          out.empty() ? "" : ",", JsonString(r.topic), r.partition, JoinInts(r.replicas),
          JoinInts(r.target_replicas), r.throttle_bytes_per_second, r.leader,
          r.leader_end_offset, members, JsonString(MoveState(r)));
    }
    fmt::print("[{}]\n", out);
    return 0;
  }
  if (moves.empty()) {
    fmt::print("no partition is moving\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : moves) {
    rows.push_back({r.topic, std::to_string(r.partition), JoinInts(r.replicas),
                    JoinInts(r.target_replicas), Throttle(r.throttle_bytes_per_second),
                    r.leader < 0 ? "-" : std::to_string(r.leader), MoveState(r)});
  }
  PrintTable({"TOPIC", "PARTITION", "FROM", "TO", "THROTTLE", "LEADER", "STATE"}, rows);
  return 0;
}

// Polls `done` every `interval_ms` until it holds; a failure naming `what` once `timeout_ms`
// has passed.
void PollUntil(const std::function<bool()>& done, int timeout_ms, int interval_ms,
               const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Failure(absl::DeadlineExceededError(fmt::format("{} after {} ms", what, timeout_ms)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

// --timeout-ms, for --wait.
int WaitTimeoutMs(const ParsedArgs& args) {
  auto timeout = args.Value("--timeout-ms");
  return timeout ? static_cast<int>(ParseInt("--timeout-ms", *timeout, 100, INT32_MAX)) : 3600000;
}

int Reassign(const Context& ctx, const ParsedArgs& args) {
  if (args.Has("--status")) return ReassignStatus(ctx, args);
  if (args.positionals().size() != 2) {
    throw UsageError{"partition reassign needs TOPIC PARTITION (or --status)"};
  }
  const std::string& topic = args.positionals()[0];
  const auto partition =
      static_cast<int32_t>(ParseInt("PARTITION", args.positionals()[1], 0, INT32_MAX));
  auto admin = MakeAdmin(ctx);
  if (args.Has("--cancel")) {
    Check(admin->CancelReassignment(topic, partition));
  } else {
    auto list = args.Value("--replicas");
    if (!list) throw UsageError{"partition reassign needs --replicas ID,ID,... (or --cancel)"};
    std::vector<int32_t> replicas;
    for (const auto& item : SplitList("--replicas", *list)) {
      replicas.push_back(static_cast<int32_t>(ParseInt("--replicas", item, 1, INT32_MAX)));
    }
    std::optional<int64_t> throttle;
    if (auto value = args.Value("--throttle")) throttle = ParseBytes("--throttle", *value);
    Check(admin->ReassignPartition(topic, partition, replicas, throttle));
  }
  if (args.Has("--wait")) {
    PollUntil(
        [&] {
          auto moves = admin->ListReassignments(topic);
          return moves.ok() && std::none_of(moves->begin(), moves->end(), [&](const auto& r) {
                   return r.partition == partition;
                 });
        },
        WaitTimeoutMs(args), 200,
        fmt::format("{}-{} is still moving (see rillctl partition reassign --status)", topic,
                    partition));
  }
  const char* what = args.Has("--cancel") ? "cancelled" : "started";
  const char* state = args.Has("--wait") ? "done" : what;
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"partition\":{},\"state\":\"{}\"}}\n", JsonString(topic),
               partition, state);
  } else {
    fmt::print("move of {}-{} {}\n", topic, partition, state);
  }
  return 0;
}

int Decommission(const Context& ctx, const ParsedArgs& args, bool decommission) {
  const auto node = static_cast<int32_t>(ParseInt("BROKER", args.positionals()[0], 1, INT32_MAX));
  auto admin = MakeAdmin(ctx);
  Check(decommission ? admin->DecommissionBroker(node) : admin->RecommissionBroker(node));
  if (decommission && args.Has("--wait")) {
    PollUntil(
        [&] {
          auto cluster = admin->DescribeCluster();
          if (!cluster.ok()) return false;
          auto it = std::find_if(cluster->brokers.begin(), cluster->brokers.end(),
                                 [&](const BrokerNode& b) { return b.node_id == node; });
          return it == cluster->brokers.end() || it->replicas == 0;
        },
        WaitTimeoutMs(args), 500, fmt::format("broker {} still holds replicas", node));
  }
  const char* state = !decommission ? "recommissioned"
                      : args.Has("--wait") ? "drained" : "draining";
  if (ctx.json) {
    fmt::print("{{\"node_id\":{},\"state\":\"{}\"}}\n", node, state);
  } else {
    fmt::print("broker {} {}\n", node, state);
  }
  return 0;
}

}  // namespace

std::vector<Command> PartitionCommands() {
  return {
      {{"partition transfer-leader",
        "TOPIC PARTITION",
        2,
        2,
        "Hands a partition's leadership to another of its replicas (a Raft leadership "
        "transfer) and waits until that broker leads. Producers and consumers follow the move "
        "without errors.",
        {{"--to", 0, "BROKER", "the node id of the replica to lead"},
         {"--timeout-ms", 0, "N", "how long to wait for the move (default 10000)"}},
        ""},
       TransferLeader},
      {{"partition reassign",
        "[TOPIC [PARTITION]]",
        0,
        2,
        "Moves a partition's replicas to other brokers while it keeps serving: new replicas "
        "join as learners and copy the log, are promoted once caught up, and the old ones are "
        "removed, one membership change at a time. With --status, lists the moves in progress "
        "(of TOPIC, PARTITION) and how far each new replica has copied.",
        {{"--replicas", 0, "ID,ID,...", "the brokers to move to, the preferred leader first"},
         {"--throttle", 0, "BYTES", "copy the existing data at most this fast per second "
          "(suffixes K, M, G; 0: unthrottled; default: the cluster's "
          "partition.move.throttle.bytes.per.second)"},
         {"--cancel", 0, "", "turn the move back to the replicas it started from"},
         {"--status", 0, "", "show the moves in progress"},
         {"--wait", 0, "", "return once the move has finished"},
         {"--timeout-ms", 0, "N", "with --wait, how long to wait (default 3600000)"}},
        "Example: rillctl partition reassign orders 0 --replicas 2,3,4 --throttle 50M --wait"},
       Reassign},
      {{"broker decommission",
        "BROKER",
        1,
        1,
        "Drains a broker: every replica it holds moves to other live brokers, a few "
        "partitions at a time, and it gets no new ones. Once it holds none (STATE drained in "
        "cluster status) it can be stopped.",
        {{"--wait", 0, "", "return once it holds no replica"},
         {"--timeout-ms", 0, "N", "with --wait, how long to wait (default 3600000)"}},
        ""},
       [](const Context& ctx, const ParsedArgs& args) { return Decommission(ctx, args, true); }},
      {{"broker recommission",
        "BROKER",
        1,
        1,
        "Stops draining a broker: it takes new replicas again, and the moves still taking "
        "replicas off it turn back.",
        {},
        ""},
       [](const Context& ctx, const ParsedArgs& args) { return Decommission(ctx, args, false); }},
  };
}

}  // namespace rill::ctl
