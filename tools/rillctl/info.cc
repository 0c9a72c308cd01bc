// rillctl offsets, rillctl cluster status and rillctl broker list.
#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/http_probe.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {
// alive, fenced, draining (decommissioning) or drained (decommissioned, holding nothing).
const char* BrokerState(const BrokerNode& b) {
  if (b.fenced) return "fenced";
  if (b.decommissioning) return b.replicas == 0 ? "drained" : "draining";
  return "alive";
}
}  // namespace

namespace {

int Offsets(const Context& ctx, const ParsedArgs& args) {
  const std::string& topic = args.positionals()[0];
  auto admin = MakeAdmin(ctx);
  auto earliest = Check(admin->ListOffsets(topic, OffsetSpec{OffsetSpec::kEarliest}));
  auto latest = Check(admin->ListOffsets(topic, OffsetSpec{OffsetSpec::kLatest}));
  std::optional<int64_t> timestamp;
  std::map<int32_t, int64_t> at_time;
  if (auto v = args.Value("--timestamp")) {
    auto ts = ParseTimestamp(*v);
    if (!ts.ok()) throw UsageError{fmt::format("--timestamp: {}", ts.status().message())};
    timestamp = *ts;
    at_time = Check(admin->ListOffsets(topic, OffsetSpec{*timestamp}));
  }
  const std::vector<int32_t> only = PartitionFlags(args);
  auto wanted = [&only](int32_t p) {
    return only.empty() || std::find(only.begin(), only.end(), p) != only.end();
  };
  if (ctx.json) {
    std::string out;
    for (const auto& [p, start] : earliest) {
      if (!wanted(p)) continue;
      out += fmt::format("{}{{\"partition\":{},\"earliest\":{},\"latest\":{}{}}}",
                         out.empty() ? "" : ",", p, start, latest[p],
                         timestamp ? fmt::format(",\"at_timestamp\":{}", at_time[p]) : "");
    }
    fmt::print("[{}]\n", out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [p, start] : earliest) {
    if (!wanted(p)) continue;
    rows.push_back({std::to_string(p), std::to_string(start), std::to_string(latest[p])});
    // -1 from the broker: no record is that new.
    if (timestamp) rows.back().push_back(at_time[p] >= 0 ? std::to_string(at_time[p]) : "-");
  }
  std::vector<std::string> header = {"PARTITION", "EARLIEST", "LATEST"};
  if (timestamp) header.push_back("AT-TIMESTAMP");
  PrintTable(header, rows);
  return 0;
}

// What each reachable broker says of itself: the metadata offset it applied, the partitions it
// leads, and those of them that are under-replicated (only a leader knows).
std::map<int32_t, ClusterDescription> OwnViews(const Context& ctx,
                                               const ClusterDescription& cluster) {
  std::map<int32_t, ClusterDescription> out;
  for (const auto& b : cluster.brokers) {
    if (b.host.empty()) continue;
    ClientOptions options = ctx.client;
    options.bootstrap_brokers = fmt::format("{}:{}", b.host, b.port);
    options.request_timeout_ms = std::min(options.request_timeout_ms, 2000);
    auto admin = Admin::Create(options);
    if (!admin.ok()) continue;
    auto own = (*admin)->DescribeCluster();
    if (own.ok() && own->answering_node == b.node_id) out[b.node_id] = std::move(*own);
  }
  return out;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += fmt::format("{}{}", out.empty() ? "" : ",", id);
  return out;
}

int ClusterStatus(const Context& ctx, const ParsedArgs& args) {
  auto admin = MakeAdmin(ctx);
  auto cluster = Check(admin->DescribeCluster());
  auto topics = Check(admin->ListTopics());
  int64_t partitions = 0;
  for (const auto& t : topics) partitions += t.partitions;
  const std::map<int32_t, ClusterDescription> views = OwnViews(ctx, cluster);
  std::vector<UnderReplicatedPartitionInfo> under;
  for (const auto& [id, view] : views) {
    under.insert(under.end(), view.under_replicated.begin(), view.under_replicated.end());
  }
  if (ctx.json) {
    std::string brokers;
    for (const auto& b : cluster.brokers) {
      auto view = views.find(b.node_id);
      brokers += fmt::format(
          "{}{{\"node_id\":{},\"host\":{},\"port\":{},\"inter_broker_address\":{},"
          "\"state\":\"{}\",\"voter\":{},\"replicas\":{},\"leaders\":{},"
          "\"metadata_offset\":{}}}",
          brokers.empty() ? "" : ",", b.node_id, JsonString(b.host), b.port,
          JsonString(b.inter_broker_address), BrokerState(b),
          b.voter ? "true" : "false", b.replicas,
          view == views.end() ? b.leaders : view->second.answering_leads,
          view == views.end() ? "null" : std::to_string(view->second.metadata_offset));
    }
    std::string offline;
    for (const auto& p : cluster.offline_partitions) {
      offline += fmt::format("{}{{\"topic\":{},\"partition\":{},\"error\":{}}}",
                             offline.empty() ? "" : ",", JsonString(p.topic), p.partition,
                             JsonString(std::string(p.error.message())));
    }
    std::string under_json;
    for (const auto& p : under) {
      under_json += fmt::format(
          "{}{{\"topic\":{},\"partition\":{},\"replicas\":[{}],\"in_sync_replicas\":[{}]}}",
          under_json.empty() ? "" : ",", JsonString(p.topic), p.partition, Join(p.replicas),
          Join(p.in_sync_replicas));
    }
    fmt::print(
        "{{\"cluster_id\":{},\"controller_id\":{},\"voters\":[{}],\"brokers\":[{}],"
        "\"topics\":{},\"partitions\":{},\"offline_partitions\":[{}],"
        "\"under_replicated_partitions\":[{}]}}\n",
        JsonString(cluster.cluster_id), cluster.controller_id, Join(cluster.voters), brokers,
        topics.size(), partitions, offline, under_json);
    return 0;
  }
  fmt::print("cluster {}: controller {}, voters {}\n", cluster.cluster_id,
             cluster.controller_id >= 0 ? std::to_string(cluster.controller_id) : "none",
             Join(cluster.voters));
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : cluster.brokers) {
    auto view = views.find(b.node_id);
    rows.push_back({std::to_string(b.node_id), fmt::format("{}:{}", b.host, b.port),
                    BrokerState(b),
                    b.node_id == cluster.controller_id ? "controller"
                    : b.voter                          ? "voter"
                                                       : "learner",
                    std::to_string(b.replicas),
                    std::to_string(view == views.end() ? b.leaders : view->second.answering_leads),
                    view == views.end() ? "unreachable"
                                        : std::to_string(view->second.metadata_offset)});
  }
  PrintTable({"NODE", "ADDRESS", "STATE", "ROLE", "REPLICAS", "LEADERS", "METADATA-OFFSET"}, rows);
  fmt::print("topics: {}, partitions: {}, offline: {}, under-replicated: {}\n", topics.size(),
             partitions, cluster.offline_partitions.size(), under.size());
  for (const auto& p : cluster.offline_partitions) {
    fmt::print("offline {}-{}: {}\n", p.topic, p.partition, p.error.message());
  }
  for (const auto& p : under) {
    fmt::print("under-replicated {}-{}: replicas {}, in sync {}\n", p.topic, p.partition,
               Join(p.replicas), Join(p.in_sync_replicas));
  }
  return 0;
}

int BrokerList(const Context& ctx, const ParsedArgs& args) {
  auto cluster = Check(MakeAdmin(ctx)->DescribeCluster());
  if (ctx.json) {
    std::string brokers;
    for (const auto& b : cluster.brokers) {
      brokers += fmt::format("{}{{\"node_id\":{},\"host\":{},\"port\":{},\"state\":\"{}\"}}",
                             brokers.empty() ? "" : ",", b.node_id, JsonString(b.host), b.port,
                             BrokerState(b));
    }
    fmt::print("[{}]\n", brokers);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : cluster.brokers) {
    rows.push_back({std::to_string(b.node_id), fmt::format("{}:{}", b.host, b.port),
                    b.inter_broker_address, BrokerState(b)});
  }
  PrintTable({"NODE", "ADDRESS", "BROKER-ADDRESS", "STATE"}, rows);
  return 0;
}

// Asks one broker's admin endpoint whether it is ready; the exit status is the answer, so that
// it serves as a container healthcheck.
int BrokerReady(const Context&, const ParsedArgs& args) {
  const std::string address =
      args.positionals().empty() ? "127.0.0.1:9291" : args.positionals()[0];
  int timeout_ms = 3000;
  if (auto v = args.Value("--timeout-ms")) {
    timeout_ms = static_cast<int>(ParseInt("--timeout-ms", *v, 1, 600000));
  }
  auto reply = Check(HttpGet(address, "/readyz", timeout_ms, 4096));
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  if (reply.status != 200) {
    throw Failure(absl::UnavailableError(
        fmt::format("{} (HTTP {})", body.empty() ? "not ready" : body, reply.status)));
  }
  fmt::print("{}\n", body);
  return 0;
}

}  // namespace

std::vector<Command> InfoCommands() {
  return {
      {{"offsets",
        "TOPIC",
        1,
        1,
        "Shows the earliest and latest offset of every partition, and with --timestamp the "
        "first offset at or after that time (as kcat -Q).",
        {{"--timestamp", 0, "T", "also the offset for this time (epoch ms or a date)"},
         {"--partition", 'p', "P", "only this partition (repeatable)"}},
        ""},
       Offsets},
      {{"cluster status",
        "",
        0,
        0,
        "Shows the cluster id, the controller and its voters, every broker (address, alive or "
        "fenced, replicas and leaders it holds, the metadata offset it has applied), the topic "
        "and partition counts, and any offline partitions.",
        {},
        ""},
       ClusterStatus},
      {{"broker list", "", 0, 0, "Lists the brokers of the cluster and whether each is alive.", {},
        ""},
       BrokerList},
      {{"broker ready",
        "[ADMIN-ADDRESS]",
        0,
        1,
        "Asks a broker's admin endpoint (default 127.0.0.1:9291) whether it is ready to serve: "
        "exits 0 when it is, 1 with the reason when it is not or does not answer. For "
        "healthchecks and start-up scripts.",
        {{"--timeout-ms", 0, "MS", "give up after this long (default 3000)"}},
        ""},
       BrokerReady},
  };
}

}  // namespace rill::ctl
