// rillctl group ...: list, describe, reset-offsets, delete.
#include <chrono>
#include <fstream>
#include <set>

#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

int List(const Context& ctx, const ParsedArgs& args) {
  auto groups = Check(MakeAdmin(ctx)->ListGroups());
  if (ctx.json) {
    std::string out;
    for (const auto& g : groups) {
      out += fmt::format("{}{{\"group\":{},\"type\":{},\"state\":{},\"members\":{}}}",
                         out.empty() ? "" : ",", JsonString(g.group_id), JsonString(g.type),
                         JsonString(g.state), g.members);
    }
    fmt::print("[{}]\n", out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : groups) {
    rows.push_back({g.group_id, g.type, g.state, std::to_string(g.members)});
  }
  PrintTable({"GROUP", "TYPE", "STATE", "MEMBERS"}, rows);
  return 0;
}

// Lag summed per topic, in topic order.
std::map<std::string, int64_t> LagByTopic(const GroupDescription& d) {
  std::map<std::string, int64_t> lag;
  for (const auto& p : d.partitions) lag[p.partition.topic] += p.lag;
  return lag;
}

std::string DescribeJson(const GroupDescription& d) {
  std::string members, partitions, topics;
  for (const auto& m : d.members) {
    members += fmt::format(
        "{}{{\"member_id\":{},\"instance_id\":{},\"client_id\":{},\"client_host\":{},"
        "\"epoch\":{},\"assignment\":{},\"pending\":{}}}",
        members.empty() ? "" : ",", JsonString(m.member_id), JsonString(m.instance_id),
        JsonString(m.client_id), JsonString(m.client_host), m.member_epoch,
        JsonString(JoinPartitions(m.assignment)), JsonString(JoinPartitions(m.pending)));
  }
  for (const auto& p : d.partitions) {
    partitions += fmt::format(
        "{}{{\"topic\":{},\"partition\":{},\"committed\":{},\"log_end\":{},\"lag\":{},"
        "\"member_id\":{}}}",
        partitions.empty() ? "" : ",", JsonString(p.partition.topic), p.partition.partition,
        p.committed_offset, p.log_end_offset, p.lag, JsonString(p.member_id));
  }
  for (const auto& [topic, lag] : LagByTopic(d)) {
    topics += fmt::format("{}{{\"topic\":{},\"lag\":{}}}", topics.empty() ? "" : ",",
                          JsonString(topic), lag);
  }
  return fmt::format(
      "{{\"group\":{},\"type\":{},\"state\":{},\"epoch\":{},\"assignor\":{},"
      "\"members\":[{}],\"partitions\":[{}],\"topics\":[{}],\"total_lag\":{}}}",
      JsonString(d.group_id), JsonString(d.type), JsonString(d.state), d.group_epoch,
      JsonString(d.assignor), members, partitions, topics, d.total_lag);
}

void PrintDescription(const GroupDescription& d) {
  const bool classic = d.type == "classic";
  fmt::print("group {}: {}{}, {} {}, assignor {}, {} member(s), total lag {}\n\n", d.group_id,
             d.state, classic ? " (classic)" : "", classic ? "generation" : "epoch", d.group_epoch,
             d.assignor.empty() ? "-" : d.assignor, d.members.size(), d.total_lag);
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : d.partitions) {
    rows.push_back({p.partition.topic, std::to_string(p.partition.partition),
                    p.committed_offset >= 0 ? std::to_string(p.committed_offset) : "-",
                    std::to_string(p.log_end_offset), std::to_string(p.lag),
                    p.member_id.empty() ? "-" : p.member_id});
  }
  PrintTable({"TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"}, rows);
  const auto by_topic = LagByTopic(d);
  if (!by_topic.empty()) {
    fmt::print("\n");
    rows.clear();
    for (const auto& [topic, lag] : by_topic) rows.push_back({topic, std::to_string(lag)});
    PrintTable({"TOPIC", "LAG"}, rows);
  }
  if (!d.members.empty()) {
    fmt::print("\n");
    rows.clear();
    for (const auto& m : d.members) {
      rows.push_back({m.member_id, m.instance_id.empty() ? "-" : m.instance_id, m.client_id,
                      std::to_string(m.member_epoch), JoinPartitions(m.assignment),
                      m.pending.empty() ? "-" : JoinPartitions(m.pending)});
    }
    PrintTable({"MEMBER", "INSTANCE", "CLIENT", "EPOCH", "ASSIGNMENT", "PENDING"}, rows);
  }
}

int Describe(const Context& ctx, const ParsedArgs& args) {
  auto admin = MakeAdmin(ctx);
  std::vector<std::string> ids = args.positionals();
  if (ids.empty()) {
    for (const auto& g : Check(admin->ListGroups())) ids.push_back(g.group_id);
  }
  std::string json;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto d = Check(admin->DescribeGroup(ids[i]));
    if (ctx.json) {
      json += (json.empty() ? "" : ",") + DescribeJson(d);
      continue;
    }
    if (i > 0) fmt::print("\n");
    PrintDescription(d);
  }
  // One object for one named group (as before); an array when describing several or all.
  if (ctx.json && args.positionals().size() == 1) {
    fmt::print("{}\n", json);
  } else if (ctx.json) {
    fmt::print("[{}]\n", json);
  }
  return 0;
}

int Delete(const Context& ctx, const ParsedArgs& args) {
  const std::string& group = args.positionals()[0];
  Check(MakeAdmin(ctx)->DeleteGroup(group));
  fmt::print("deleted group {}\n", group);
  return 0;
}

struct FileTarget {
  std::string topic;
  int32_t partition;
  int64_t offset;
};

// Kafka's reset-offsets CSV: TOPIC,PARTITION,OFFSET a line (what --export prints).
std::vector<FileTarget> ReadOffsetsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Failure(absl::NotFoundError(fmt::format("cannot read {}", path)));
  std::vector<FileTarget> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    const auto last = line.rfind(',');
    const auto first = last == std::string::npos ? last : line.rfind(',', last - 1);
    if (first == std::string::npos || first == 0) {
      throw Failure(absl::InvalidArgumentError(
          fmt::format("{}:{}: expected TOPIC,PARTITION,OFFSET, got '{}'", path, number, line)));
    }
    const std::string where = fmt::format("{}:{}", path, number);
    out.push_back(
        {line.substr(0, first),
         static_cast<int32_t>(ParseInt(where + " partition",
                                       line.substr(first + 1, last - first - 1), 0, INT32_MAX)),
         ParseInt(where + " offset", line.substr(last + 1), 0)});
  }
  if (out.empty())
    throw Failure(absl::InvalidArgumentError(fmt::format("{} has no offsets", path)));
  return out;
}

struct ResetRow {
  std::string topic;
  GroupOffsetChange change;
};

int ResetOffsets(const Context& ctx, const ParsedArgs& args) {
  const std::string& group = args.positionals()[0];
  const bool execute = args.Has("--execute");
  std::vector<std::pair<std::string, GroupOffsetTarget>> targets;
  auto add_target = [&](const std::string& flag, GroupOffsetTarget t) {
    if (args.Has(flag)) targets.push_back({flag, t});
  };
  auto value = [&](const std::string& flag) { return args.Value(flag).value_or(""); };
  add_target("--to-earliest", {GroupOffsetTarget::kEarliest, 0});
  add_target("--to-latest", {GroupOffsetTarget::kLatest, 0});
  add_target("--to-current", {GroupOffsetTarget::kShiftBy, 0});
  if (args.Has("--to-offset")) {
    add_target("--to-offset",
               {GroupOffsetTarget::kOffset, ParseInt("--to-offset", value("--to-offset"), 0)});
  }
  if (args.Has("--shift-by")) {
    add_target("--shift-by", {GroupOffsetTarget::kShiftBy,
                              ParseInt("--shift-by", value("--shift-by"), INT64_MIN)});
  }
  if (args.Has("--to-datetime")) {
    auto ts = ParseTimestamp(value("--to-datetime"));
    if (!ts.ok()) throw UsageError{fmt::format("--to-datetime: {}", ts.status().message())};
    add_target("--to-datetime", {GroupOffsetTarget::kTimestamp, *ts});
  }
  if (args.Has("--by-duration")) {
    auto ms = ParseDuration(value("--by-duration"));
    if (!ms.ok()) throw UsageError{fmt::format("--by-duration: {}", ms.status().message())};
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    add_target("--by-duration", {GroupOffsetTarget::kTimestamp, now - *ms});
  }
  const std::optional<std::string> file = args.Value("--from-file");
  if (targets.size() + (file ? 1 : 0) != 1) {
    throw UsageError{
        "reset-offsets needs exactly one of --to-earliest, --to-latest, --to-current, "
        "--to-offset, --to-datetime, --by-duration, --shift-by, --from-file"};
  }
  const std::vector<std::string> topics_given = args.Values("--topic");
  const bool all_topics = args.Has("--all-topics");
  const std::vector<int32_t> partitions = PartitionFlags(args);
  if (file && (all_topics || !topics_given.empty() || !partitions.empty())) {
    throw UsageError{"--from-file names its partitions: drop --topic, --all-topics, --partition"};
  }
  if (!file && topics_given.empty() == !all_topics) {
    throw UsageError{"reset-offsets needs --topic T (repeatable) or --all-topics"};
  }
  if (!partitions.empty() && topics_given.size() != 1) {
    throw UsageError{"--partition goes with one --topic"};
  }

  auto admin = MakeAdmin(ctx);
  // One call per topic (or per file line), first as a dry run so that a bad one stops the
  // reset before anything changed; then executed.
  struct Call {
    std::string topic;
    std::vector<int32_t> partitions;
    GroupOffsetTarget target;
  };
  std::vector<Call> calls;
  if (file) {
    for (const auto& t : ReadOffsetsFile(*file)) {
      calls.push_back({t.topic, {t.partition}, {GroupOffsetTarget::kOffset, t.offset}});
    }
  } else {
    std::vector<std::string> topics = topics_given;
    if (all_topics) {
      std::set<std::string> committed;
      for (const auto& p : Check(admin->DescribeGroup(group)).partitions) {
        committed.insert(p.partition.topic);
      }
      if (committed.empty()) {
        throw Failure(absl::NotFoundError(fmt::format(
            "group '{}' has no committed offsets, so --all-topics names no topic", group)));
      }
      topics.assign(committed.begin(), committed.end());
    }
    for (const auto& topic : topics) calls.push_back({topic, partitions, targets[0].second});
  }
  std::vector<ResetRow> rows;
  for (const bool run : {false, true}) {
    if (run && !execute) break;
    rows.clear();
    for (const auto& call : calls) {
      for (const auto& change :
           Check(admin->ResetGroupOffsets(group, call.topic, call.partitions, call.target, run))) {
        rows.push_back({call.topic, change});
      }
    }
  }
  if (args.Has("--export")) {
    for (const auto& r : rows) {
      fmt::print("{},{},{}\n", r.topic, r.change.partition, r.change.new_offset);
    }
    return 0;
  }
  if (ctx.json) {
    std::string out;
    for (const auto& r : rows) {
      out += fmt::format("{}{{\"topic\":{},\"partition\":{},\"previous\":{},\"new\":{}}}",
                         out.empty() ? "" : ",", JsonString(r.topic), r.change.partition,
                         r.change.previous_offset, r.change.new_offset);
    }
    fmt::print("{{\"executed\":{},\"partitions\":[{}]}}\n", execute ? "true" : "false", out);
    return 0;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    table.push_back({r.topic, std::to_string(r.change.partition),
                     r.change.previous_offset >= 0 ? std::to_string(r.change.previous_offset) : "-",
                     std::to_string(r.change.new_offset)});
  }
  PrintTable({"TOPIC", "PARTITION", "PREVIOUS", "NEW"}, table);
  fmt::print("{}\n", execute ? "offsets reset"
                             : "dry run: nothing changed (add --execute to commit these offsets)");
  return 0;
}

}  // namespace

std::vector<Command> GroupCommands() {
  return {
      {{"group list", "", 0, 0, "Lists consumer groups.", {}, ""}, List},
      {{"group describe",
        "[GROUP...]",
        0,
        1000,
        "Shows groups (every group when none is named): state, members, and per partition the "
        "committed offset, log end and lag, with the lag per topic and in total.",
        {},
        ""},
       Describe},
      {{"group reset-offsets",
        "GROUP",
        1,
        1,
        "Moves a group's committed offsets (a dry run unless --execute). Only for a group "
        "without active members.",
        {{"--topic", 't', "TOPIC", "a topic to reset (repeatable)"},
         {"--all-topics", 0, "", "every topic the group has committed offsets for"},
         {"--partition", 'p', "P", "only this partition of the one --topic (repeatable)"},
         {"--to-earliest", 0, "", "to the log start"},
         {"--to-latest", 0, "", "to the log end"},
         {"--to-current", 0, "", "to the committed offset (the log start where none is)"},
         {"--to-offset", 0, "N", "to offset N"},
         {"--to-datetime", 0, "DATE", "to the first record at or after DATE (or epoch ms)"},
         {"--by-duration", 0, "DURATION",
          "to the first record at most DURATION old (15m, 2h, "
          "7d, PT15M)"},
         {"--shift-by", 0, "N", "by N from the committed offset (negative: back)"},
         {"--from-file", 0, "FILE", "to the offsets in FILE: TOPIC,PARTITION,OFFSET lines"},
         {"--export", 0, "",
          "print the new offsets as TOPIC,PARTITION,OFFSET lines (for "
          "--from-file)"},
         {"--execute", 0, "", "commit the new offsets (default: only show them)"}},
        "Targets outside a partition's log land on its nearest end, as with Kafka's tool.\n"},
       ResetOffsets},
      {{"group delete",
        "GROUP",
        1,
        1,
        "Deletes a group without active members, and its offsets.",
        {},
        ""},
       Delete},
  };
}

}  // namespace rill::ctl
