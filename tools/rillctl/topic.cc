// rillctl topic ...: create, list, describe, delete, add-partitions, alter-config, trim-prefix.
#include <map>

#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

std::pair<std::string, std::string> ParseKeyValue(const std::string& flag,
                                                  const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError{fmt::format("{} needs KEY=VALUE, got '{}'", flag, text)};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// Runs `each` for every name; a failure is reported and the others still run. Exit 1 if any
// failed.
int ForEachTopic(const Context& ctx, const std::vector<std::string>& names, const char* verb,
                 const std::function<absl::Status(const std::string&)>& each) {
  int failed = 0;
  std::string json;
  for (const auto& name : names) {
    absl::Status s = each(name);
    if (!s.ok()) {
      ++failed;
      fmt::print(stderr, "rillctl: {} {}: {}\n", verb, name, s.message());
    }
    json += fmt::format("{}{{\"topic\":{},\"error\":{}}}", json.empty() ? "" : ",",
                        JsonString(name), s.ok() ? "null" : JsonString(std::string(s.message())));
  }
  if (ctx.json) fmt::print("[{}]\n", json);
  return failed ? 1 : 0;
}

const char* SourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kTopic:
      return "topic";
    case ConfigSource::kBroker:
      return "broker";
    case ConfigSource::kDefault:
      break;
  }
  return "default";
}

int Create(const Context& ctx, const ParsedArgs& args) {
  NewTopic topic{"", 0, 0, {}};  // 0: the broker's defaults
  if (auto v = args.Value("--partitions")) {
    topic.partitions = static_cast<int32_t>(ParseInt("--partitions", *v, 1, INT32_MAX));
  }
  for (const char* flag : {"--replicas", "--replication-factor"}) {
    if (auto v = args.Value(flag)) {
      topic.replication_factor = static_cast<int32_t>(ParseInt(flag, *v, 1, INT32_MAX));
    }
  }
  for (const auto& v : args.Values("--config")) topic.configs.insert(ParseKeyValue("--config", v));
  const bool if_not_exists = args.Has("--if-not-exists");
  auto admin = MakeAdmin(ctx);
  return ForEachTopic(ctx, args.positionals(), "topic create", [&](const std::string& name) {
    topic.name = name;
    absl::Status s = admin->CreateTopic(topic);
    if (s.ok()) {
      if (!ctx.json) fmt::print("created topic {}\n", name);
    } else if (if_not_exists && ErrorCodeOf(s) == ErrorCode::kTopicAlreadyExists) {
      if (!ctx.json) fmt::print("topic {} already exists\n", name);
      return absl::OkStatus();
    }
    return s;
  });
}

int Delete(const Context& ctx, const ParsedArgs& args) {
  const bool if_exists = args.Has("--if-exists");
  auto admin = MakeAdmin(ctx);
  return ForEachTopic(ctx, args.positionals(), "topic delete", [&](const std::string& name) {
    absl::Status s = admin->DeleteTopic(name);
    if (s.ok()) {
      if (!ctx.json) fmt::print("deleted topic {}\n", name);
    } else if (if_exists && ErrorCodeOf(s) == ErrorCode::kUnknownTopic) {
      if (!ctx.json) fmt::print("topic {} does not exist\n", name);
      return absl::OkStatus();
    }
    return s;
  });
}

int List(const Context& ctx, const ParsedArgs& args) {
  const bool internal = args.Has("--internal");
  auto topics = Check(MakeAdmin(ctx)->ListTopics(internal));
  if (ctx.json) {
    std::string out;
    for (const auto& t : topics) {
      out += fmt::format(
          "{}{{\"name\":{},\"partitions\":{},\"replication_factor\":{},\"internal\":{}}}",
          out.empty() ? "" : ",", JsonString(t.name), t.partitions, t.replication_factor,
          t.internal ? "true" : "false");
    }
    fmt::print("[{}]\n", out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : topics) {
    rows.push_back({t.name, std::to_string(t.partitions), std::to_string(t.replication_factor)});
    if (internal) rows.back().push_back(t.internal ? "yes" : "no");
  }
  std::vector<std::string> header = {"NAME", "PARTITIONS", "REPLICAS"};
  if (internal) header.push_back("INTERNAL");
  PrintTable(header, rows);
  return 0;
}

int Describe(const Context& ctx, const ParsedArgs& args) {
  const std::string& name = args.positionals()[0];
  auto admin = MakeAdmin(ctx);
  auto t = Check(admin->DescribeTopic(name));
  auto configs = Check(admin->DescribeConfigs(name));
  if (ctx.json) {
    std::string parts;
    for (const auto& p : t.partitions) {
      parts += fmt::format(
          "{}{{\"partition\":{},\"leader\":{},\"replicas\":[{}],\"in_sync_replicas\":[{}],"
          "\"log_start_offset\":{},\"high_watermark\":{},\"size_bytes\":{},\"segments\":{}{}}}",
          parts.empty() ? "" : ",", p.partition, p.leader, JoinInts(p.replicas),
          JoinInts(p.in_sync_replicas), p.log_start_offset, p.high_watermark, p.size_bytes,
          p.segments,
          p.error.ok() ? "" : ",\"error\":" + JsonString(std::string(p.error.message())));
    }
    std::string config_json;
    for (const auto& c : configs) {
      config_json += fmt::format("{}{{\"name\":{},\"value\":{},\"source\":\"{}\"}}",
                                 config_json.empty() ? "" : ",", JsonString(c.name),
                                 JsonString(c.value), SourceName(c.source));
    }
    fmt::print(
        "{{\"name\":{},\"topic_id\":{},\"replication_factor\":{},\"configs\":[{}],"
        "\"partitions\":[{}]}}\n",
        JsonString(t.name), JsonString(t.topic_id), t.replication_factor, config_json, parts);
    return 0;
  }
  fmt::print("topic {}: {} partition(s), replication factor {}, id {}\n\n", t.name,
             t.partitions.size(), t.replication_factor, t.topic_id);
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : configs) rows.push_back({c.name, c.value, SourceName(c.source)});
  PrintTable({"CONFIG", "VALUE", "SOURCE"}, rows);
  fmt::print("\n");
  rows.clear();
  for (const auto& p : t.partitions) {
    if (!p.error.ok()) {
      rows.push_back(
          {std::to_string(p.partition), "OFFLINE", JoinInts(p.replicas), "", "", "", ""});
      continue;
    }
    rows.push_back({std::to_string(p.partition), std::to_string(p.leader), JoinInts(p.replicas),
                    JoinInts(p.in_sync_replicas), std::to_string(p.log_start_offset),
                    std::to_string(p.high_watermark), std::to_string(p.size_bytes)});
  }
  PrintTable({"PARTITION", "LEADER", "REPLICAS", "ISR", "START", "END", "SIZE"}, rows);
  for (const auto& p : t.partitions) {
    if (!p.error.ok()) fmt::print("partition {} is offline: {}\n", p.partition, p.error.message());
  }
  return 0;
}

int AddPartitions(const Context& ctx, const ParsedArgs& args) {
  const std::string& name = args.positionals()[0];
  auto total = args.Value("--total");
  if (!total) throw UsageError{"topic add-partitions needs --total N"};
  auto n = static_cast<int32_t>(ParseInt("--total", *total, 1, INT32_MAX));
  Check(MakeAdmin(ctx)->CreatePartitions(name, n));
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"partitions\":{}}}\n", JsonString(name), n);
  } else {
    fmt::print("topic {} now has {} partitions\n", name, n);
  }
  return 0;
}

int AlterConfig(const Context& ctx, const ParsedArgs& args) {
  const std::string& name = args.positionals()[0];
  std::map<std::string, std::string> set;
  for (const auto& v : args.Values("--set")) set.insert(ParseKeyValue("--set", v));
  std::vector<std::string> remove = args.Values("--delete");
  if (set.empty() && remove.empty()) throw UsageError{"topic alter-config needs --set or --delete"};
  Check(MakeAdmin(ctx)->AlterConfigs(name, set, remove));
  if (ctx.json) {
    fmt::print("{{\"altered\":{}}}\n", JsonString(name));
  } else {
    fmt::print("altered configs of topic {}\n", name);
  }
  return 0;
}

int TrimPrefix(const Context& ctx, const ParsedArgs& args) {
  const std::string& name = args.positionals()[0];
  auto offset_text = args.Value("--offset");
  if (!offset_text) throw UsageError{"topic trim-prefix needs --offset N (or end)"};
  const int64_t offset =
      *offset_text == "end" ? Admin::kDeleteAll : ParseInt("--offset", *offset_text, 0);
  auto admin = MakeAdmin(ctx);
  std::vector<int32_t> partitions = PartitionFlags(args);
  if (partitions.empty()) {
    auto description = Check(admin->DescribeTopic(name));
    for (const auto& p : description.partitions) partitions.push_back(p.partition);
  }
  std::map<int32_t, int64_t> before;
  for (int32_t p : partitions) before[p] = offset;
  auto results = Check(admin->DeleteRecords(name, before));
  int failed = 0;
  std::vector<std::vector<std::string>> rows;
  std::string json;
  for (const auto& r : results) {
    if (!r.error.ok()) ++failed;
    rows.push_back({std::to_string(r.partition),
                    r.error.ok() ? std::to_string(r.low_watermark) : "-",
                    r.error.ok() ? "" : std::string(r.error.message())});
    json += fmt::format("{}{{\"partition\":{},\"start_offset\":{},\"error\":{}}}",
                        json.empty() ? "" : ",", r.partition, r.low_watermark,
                        r.error.ok() ? "null" : JsonString(std::string(r.error.message())));
  }
  if (ctx.json) {
    fmt::print("[{}]\n", json);
  } else {
    PrintTable({"PARTITION", "START-OFFSET", "ERROR"}, rows);
  }
  return failed ? 1 : 0;
}

}  // namespace

std::vector<Command> TopicCommands() {
  return {
      {{"topic create",
        "NAME...",
        1,
        1000,
        "Creates topics.",
        {{"--partitions", 'p', "N", "partitions (default: the broker's num.partitions)"},
         {"--replicas", 'r', "N", "replication factor (default: the broker's)"},
         {"--replication-factor", 0, "N", "the same as --replicas"},
         {"--config", 'c', "KEY=VALUE", "a topic config (repeatable): retention.ms, ..."},
         {"--if-not-exists", 0, "", "a topic that exists already is not an error"}},
        ""},
       Create},
      {{"topic list",
        "",
        0,
        0,
        "Lists topics.",
        {{"--internal", 'i', "", "also internal topics (__consumer_offsets)"}},
        ""},
       List},
      {{"topic describe",
        "NAME",
        1,
        1,
        "Shows a topic's configs, with where each value comes from (default, broker or topic), "
        "and its partitions.",
        {},
        ""},
       Describe},
      {{"topic delete",
        "NAME...",
        1,
        1000,
        "Deletes topics and all their records.",
        {{"--if-exists", 0, "", "a topic that does not exist is not an error"}},
        ""},
       Delete},
      {{"topic add-partitions",
        "NAME",
        1,
        1,
        "Grows a topic to --total partitions (partitions are never removed).",
        {{"--total", 0, "N", "the partition count to reach"}},
        ""},
       AddPartitions},
      {{"topic alter-config",
        "NAME",
        1,
        1,
        "Sets or removes a topic's configs.",
        {{"--set", 0, "KEY=VALUE", "set a config (repeatable)"},
         {"--delete", 0, "KEY", "back to the broker's value (repeatable)"}},
        ""},
       AlterConfig},
      {{"topic trim-prefix",
        "NAME",
        1,
        1,
        "Deletes the records before an offset (Kafka's DeleteRecords): they are no longer "
        "readable, and the segments wholly before it are removed from disk.",
        {{"--offset", 'o', "N|end", "the new first offset (end: delete every record)"},
         {"--partition", 'p', "P", "only this partition (repeatable; default: all)"}},
        ""},
       TrimPrefix},
  };
}

}  // namespace rill::ctl
