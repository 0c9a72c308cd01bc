// rillctl offsets and rillctl cluster status.
#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

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

int ClusterStatus(const Context& ctx, const ParsedArgs& args) {
  auto admin = MakeAdmin(ctx);
  auto cluster = Check(admin->DescribeCluster());
  auto topics = Check(admin->ListTopics());
  int64_t partitions = 0;
  for (const auto& t : topics) partitions += t.partitions;
  if (ctx.json) {
    std::string brokers;
    for (const auto& b : cluster.brokers) {
      brokers += fmt::format("{}{{\"node_id\":{},\"host\":{},\"port\":{}}}",
                             brokers.empty() ? "" : ",", b.node_id, JsonString(b.host), b.port);
    }
    std::string offline;
    for (const auto& p : cluster.offline_partitions) {
      offline += fmt::format("{}{{\"topic\":{},\"partition\":{},\"error\":{}}}",
                             offline.empty() ? "" : ",", JsonString(p.topic), p.partition,
                             JsonString(std::string(p.error.message())));
    }
    fmt::print(
        "{{\"controller_id\":{},\"brokers\":[{}],\"topics\":{},\"partitions\":{},"
        "\"offline_partitions\":[{}]}}\n",
        cluster.controller_id, brokers, topics.size(), partitions, offline);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : cluster.brokers) {
    rows.push_back({std::to_string(b.node_id), fmt::format("{}:{}", b.host, b.port),
                    b.node_id == cluster.controller_id ? "yes" : ""});
  }
  PrintTable({"NODE", "ADDRESS", "CONTROLLER"}, rows);
  fmt::print("topics: {}, partitions: {}, offline: {}\n", topics.size(), partitions,
             cluster.offline_partitions.size());
  for (const auto& p : cluster.offline_partitions) {
    fmt::print("offline {}-{}: {}\n", p.topic, p.partition, p.error.message());
  }
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
        "Shows the brokers, the topic and partition counts, and any "
        "offline partitions.",
        {},
        ""},
       ClusterStatus},
  };
}

}  // namespace rill::ctl
