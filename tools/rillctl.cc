// rillctl: the operator's command line for Rill (habits of kafka-topics.sh, rpk and kcat).
// `rillctl --help` lists the commands; docs/operations.md describes them.
//
// Exit status: 0 on success, 1 when the operation failed (one line on stderr saying why),
// 2 for bad usage.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/fmt_absl.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/version.h"

namespace {

using namespace rill;

constexpr char kUsage[] =
    R"(usage: rillctl [--brokers HOST:PORT,...] [--output table|json] COMMAND ...

Commands:
  topic create NAME [--partitions N] [--replication-factor R] [--config KEY=VALUE]...
  topic list
  topic describe NAME
  topic delete NAME
  topic add-partitions NAME --total N
  topic alter-config NAME [--set KEY=VALUE]... [--delete KEY]...
  produce TOPIC [--key-separator SEP] [--partition P] [--compression none|gzip|snappy|lz4|zstd]
      one record per line of standard input; prints a summary at the end
  consume TOPIC [--partition P] [--offset N | --from-beginning | --from-timestamp MS]
                [--max-messages N] [--format FMT]
      follows the log until interrupted unless --max-messages is given. FMT uses kcat's tokens:
      %t topic, %p partition, %o offset, %k key, %s value, %T timestamp, %h headers,
      \t and \n; the default prints the value and a newline
  consume TOPIC --group G [--max-messages N] [--format FMT]
      reads as a member of group G: the group's partitions, from its committed offsets
      (earliest when none), committing as it goes
  group list
  group describe G        state, members, and per partition the committed offset, log end
                          and lag (with the total)
  group reset-offsets G --topic T [--partition P]...
        (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO8601 | --shift-by N)
        [--execute]       a dry run unless --execute; only for a group without members.
                          --to-datetime is RFC 3339 (UTC when no zone is given)
  group delete G          only a group without members
  offsets TOPIC           earliest and latest offset of every partition
  cluster status          brokers, topics and partitions

Global options:
  --brokers LIST   bootstrap brokers (default: $RILL_BROKERS, else 127.0.0.1:9290)
  --output FORMAT  table (default) or json
)";

struct UsageError {
  std::string message;
};

class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {}

  bool empty() const { return pos_ >= args_.size(); }
  std::string Next(const char* what) {
    if (empty()) throw UsageError{fmt::format("missing {}", what)};
    return args_[pos_++];
  }
  // Takes "--flag VALUE" or "--flag=VALUE" if next; nullopt otherwise.
  std::optional<std::string> Flag(const std::string& name) {
    if (empty()) return std::nullopt;
    const std::string& arg = args_[pos_];
    if (arg == name) {
      ++pos_;
      return Next(name.c_str());
    }
    if (arg.rfind(name + "=", 0) == 0) {
      ++pos_;
      return arg.substr(name.size() + 1);
    }
    return std::nullopt;
  }
  bool Switch(const std::string& name) {
    if (!empty() && args_[pos_] == name) {
      ++pos_;
      return true;
    }
    return false;
  }
  [[noreturn]] void Unknown() {
    throw UsageError{fmt::format("unexpected argument '{}'", args_[pos_])};
  }

 private:
  std::vector<std::string> args_;
  size_t pos_ = 0;
};

int64_t ParseInt(const std::string& flag, const std::string& text, int64_t min) {
  try {
    size_t used = 0;
    int64_t value = std::stoll(text, &used);
    if (used == text.size() && value >= min) return value;
  } catch (const std::exception&) {
  }
  throw UsageError{fmt::format("{} needs an integer >= {}, got '{}'", flag, min, text)};
}

std::pair<std::string, std::string> ParseKeyValue(const std::string& flag,
                                                  const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError{fmt::format("{} needs KEY=VALUE, got '{}'", flag, text)};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

// Prints rows as an aligned table with a header.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
    }
    fmt::print("{}\n", line);
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string JoinInts(const std::vector<int32_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

struct Context {
  ClientOptions client;
  bool json = false;
};

class Failure {
 public:
  explicit Failure(absl::Status status) : status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

template <typename T>
T Check(absl::StatusOr<T> result) {
  if (!result.ok()) throw Failure(result.status());
  return std::move(*result);
}
void Check(const absl::Status& status) {
  if (!status.ok()) throw Failure(status);
}

std::unique_ptr<Admin> MakeAdmin(const Context& ctx) { return Check(Admin::Create(ctx.client)); }

int TopicCommand(const Context& ctx, Args& args) {
  const std::string verb = args.Next(
      "topic command (create, list, describe, delete, "
      "add-partitions, alter-config)");
  if (verb == "list") {
    if (!args.empty()) args.Unknown();
    auto topics = Check(MakeAdmin(ctx)->ListTopics());
    if (ctx.json) {
      std::string out = "[";
      for (size_t i = 0; i < topics.size(); ++i) {
        out += fmt::format("{}{{\"name\":{},\"partitions\":{},\"replication_factor\":{}}}",
                           i ? "," : "", JsonString(topics[i].name), topics[i].partitions,
                           topics[i].replication_factor);
      }
      fmt::print("{}]\n", out);
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& t : topics) {
        rows.push_back(
            {t.name, std::to_string(t.partitions), std::to_string(t.replication_factor)});
      }
      PrintTable({"NAME", "PARTITIONS", "REPLICAS"}, rows);
    }
    return 0;
  }
  const std::string name = args.Next("topic name");
  if (verb == "create") {
    NewTopic topic{name, 0, 0, {}};  // 0: the broker's defaults
    while (!args.empty()) {
      if (auto v = args.Flag("--partitions")) {
        topic.partitions = static_cast<int32_t>(ParseInt("--partitions", *v, 1));
      } else if (auto v = args.Flag("--replication-factor")) {
        topic.replication_factor = static_cast<int32_t>(ParseInt("--replication-factor", *v, 1));
      } else if (auto v = args.Flag("--config")) {
        topic.configs.insert(ParseKeyValue("--config", *v));
      } else {
        args.Unknown();
      }
    }
    Check(MakeAdmin(ctx)->CreateTopic(topic));
    if (ctx.json) {
      fmt::print("{{\"created\":{}}}\n", JsonString(name));
    } else {
      fmt::print("created topic {}\n", name);
    }
    return 0;
  }
  if (verb == "describe") {
    if (!args.empty()) args.Unknown();
    auto t = Check(MakeAdmin(ctx)->DescribeTopic(name));
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
      std::string configs;
      for (const auto& [k, v] : t.configs) {
        configs += fmt::format("{}{}:{}", configs.empty() ? "" : ",", JsonString(k), JsonString(v));
      }
      fmt::print(
          "{{\"name\":{},\"replication_factor\":{},\"configs\":{{{}}},\"partitions\":[{}]}}\n",
          JsonString(t.name), t.replication_factor, configs, parts);
      return 0;
    }
    fmt::print("topic {}: {} partition(s), replication factor {}\n", t.name, t.partitions.size(),
               t.replication_factor);
    for (const auto& [k, v] : t.configs) fmt::print("config {}={}\n", k, v);
    std::vector<std::vector<std::string>> rows;
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
      if (!p.error.ok())
        fmt::print("partition {} is offline: {}\n", p.partition, p.error.message());
    }
    return 0;
  }
  if (verb == "delete") {
    if (!args.empty()) args.Unknown();
    Check(MakeAdmin(ctx)->DeleteTopic(name));
    if (ctx.json) {
      fmt::print("{{\"deleted\":{}}}\n", JsonString(name));
    } else {
      fmt::print("deleted topic {}\n", name);
    }
    return 0;
  }
  if (verb == "add-partitions") {
    auto total = args.Flag("--total");
    if (!total) throw UsageError{"topic add-partitions needs --total N"};
    if (!args.empty()) args.Unknown();
    auto n = static_cast<int32_t>(ParseInt("--total", *total, 1));
    Check(MakeAdmin(ctx)->CreatePartitions(name, n));
    if (ctx.json) {
      fmt::print("{{\"topic\":{},\"partitions\":{}}}\n", JsonString(name), n);
    } else {
      fmt::print("topic {} now has {} partitions\n", name, n);
    }
    return 0;
  }
  if (verb == "alter-config") {
    std::map<std::string, std::string> set;
    std::vector<std::string> remove;
    while (!args.empty()) {
      if (auto v = args.Flag("--set")) {
        set.insert(ParseKeyValue("--set", *v));
      } else if (auto v = args.Flag("--delete")) {
        remove.push_back(*v);
      } else {
        args.Unknown();
      }
    }
    if (set.empty() && remove.empty()) throw UsageError{"alter-config needs --set or --delete"};
    auto admin = MakeAdmin(ctx);
    Check(admin->AlterConfigs(name, set, remove));
    if (ctx.json) {
      fmt::print("{{\"altered\":{}}}\n", JsonString(name));
    } else {
      fmt::print("altered configs of topic {}\n", name);
    }
    return 0;
  }
  throw UsageError{fmt::format("unknown topic command '{}'", verb)};
}

int ProduceCommand(const Context& ctx, Args& args) {
  const std::string topic = args.Next("topic");
  std::optional<std::string> separator;
  std::optional<int32_t> partition;
  Compression compression = Compression::kNone;
  while (!args.empty()) {
    if (auto v = args.Flag("--key-separator")) {
      if (v->empty()) throw UsageError{"--key-separator must not be empty"};
      separator = *v;
    } else if (auto v = args.Flag("--partition")) {
      partition = static_cast<int32_t>(ParseInt("--partition", *v, 0));
    } else if (auto v = args.Flag("--compression")) {
      const std::map<std::string, Compression> codecs = {{"none", Compression::kNone},
                                                         {"gzip", Compression::kGzip},
                                                         {"snappy", Compression::kSnappy},
                                                         {"lz4", Compression::kLz4},
                                                         {"zstd", Compression::kZstd}};
      auto it = codecs.find(*v);
      if (it == codecs.end()) {
        throw UsageError{
            fmt::format("--compression must be none, gzip, snappy, lz4 or zstd, not '{}'", *v)};
      }
      compression = it->second;
    } else {
      args.Unknown();
    }
  }
  ProducerOptions options;
  options.client = ctx.client;
  options.compression = compression;
  options.delivery_timeout_ms = std::max(options.client.request_timeout_ms, 30000);
  auto producer = Check(Producer::Create(options));
  absl::Mutex mu;
  int64_t acknowledged = 0;
  int64_t failed = 0;
  absl::Status first_error;
  std::string line;
  int64_t sent = 0;
  while (std::getline(std::cin, line)) {
    ProducerRecord record{topic, std::nullopt, line, {}, partition, std::nullopt};
    if (separator) {
      auto at = line.find(*separator);
      if (at != std::string::npos) {
        record.key = line.substr(0, at);
        record.value = line.substr(at + separator->size());
      }
    }
    Check(producer->Send(std::move(record), [&](const absl::StatusOr<RecordMetadata>& r) {
      absl::MutexLock lock(&mu);
      if (r.ok()) {
        ++acknowledged;
      } else {
        ++failed;
        if (first_error.ok()) first_error = r.status();
      }
    }));
    ++sent;
  }
  producer->Flush();
  producer->Close();
  absl::MutexLock lock(&mu);
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"produced\":{},\"failed\":{}}}\n", JsonString(topic), acknowledged,
               failed);
  } else {
    fmt::print("produced {} record(s) to {}{}\n", acknowledged, topic,
               failed ? fmt::format(", {} failed", failed) : "");
  }
  if (failed > 0) throw Failure(first_error);
  return 0;
}

std::atomic<bool> g_interrupted{false};

std::string FormatRecord(const std::string& format, const ConsumerRecord& r) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '\\' && i + 1 < format.size()) {
      char e = format[++i];
      out += e == 'n' ? "\n" : e == 't' ? "\t" : e == '\\' ? "\\" : std::string{'\\', e};
      continue;
    }
    if (c != '%' || i + 1 >= format.size()) {
      out.push_back(c);
      continue;
    }
    switch (char t = format[++i]) {
      case 't':
        out += r.topic;
        break;
      case 'p':
        out += std::to_string(r.partition);
        break;
      case 'o':
        out += std::to_string(r.offset);
        break;
      case 'k':
        out += r.key.value_or("");
        break;
      case 's':
        out += r.value.value_or("");
        break;
      case 'T':
        out += std::to_string(r.timestamp_ms);
        break;
      case 'h': {
        std::string headers;
        for (const auto& h : r.headers) {
          headers +=
              fmt::format("{}{}={}", headers.empty() ? "" : ",", h.key, h.value.value_or(""));
        }
        out += headers;
        break;
      }
      case '%':
        out.push_back('%');
        break;
      default:
        out += std::string{'%', t};
    }
  }
  return out;
}

int ConsumeCommand(const Context& ctx, Args& args) {
  const std::string topic = args.Next("topic");
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
  std::optional<int64_t> from_timestamp;
  bool from_beginning = false;
  int64_t max_messages = -1;
  std::string format = "%s\\n";
  std::optional<std::string> group;
  while (!args.empty()) {
    if (auto v = args.Flag("--group")) {
      group = *v;
    } else if (auto v = args.Flag("--partition")) {
      partition = static_cast<int32_t>(ParseInt("--partition", *v, 0));
    } else if (auto v = args.Flag("--offset")) {
      offset = ParseInt("--offset", *v, 0);
    } else if (args.Switch("--from-beginning")) {
      from_beginning = true;
    } else if (auto v = args.Flag("--from-timestamp")) {
      from_timestamp = ParseInt("--from-timestamp", *v, 0);
    } else if (auto v = args.Flag("--max-messages")) {
      max_messages = ParseInt("--max-messages", *v, 1);
    } else if (auto v = args.Flag("--format")) {
      format = *v;
    } else {
      args.Unknown();
    }
  }
  if ((offset ? 1 : 0) + (from_beginning ? 1 : 0) + (from_timestamp ? 1 : 0) > 1) {
    throw UsageError{"use only one of --offset, --from-beginning and --from-timestamp"};
  }
  if (offset && !partition) throw UsageError{"--offset needs --partition"};
  if (group && (partition || offset || from_beginning || from_timestamp)) {
    throw UsageError{
        "--group reads the group's partitions from its committed offsets; "
        "--partition, --offset and --from-* do not combine with it (reset the "
        "group's offsets instead)"};
  }

  auto admin = MakeAdmin(ctx);
  auto description = Check(admin->DescribeTopic(topic));
  std::vector<TopicPartition> assignment;
  for (const auto& p : description.partitions) {
    if (!partition || *partition == p.partition) assignment.push_back({topic, p.partition});
  }
  if (assignment.empty()) {
    throw Failure(absl::NotFoundError(
        fmt::format("UNKNOWN_PARTITION: topic '{}' has no partition {}", topic, *partition)));
  }
  ConsumerOptions options;
  options.client = ctx.client;
  if (group) {
    options.group_id = *group;
    options.auto_offset_reset = OffsetReset::kEarliest;
    options.client_id = "rillctl";
    // Commits exactly what was printed (a Poll may return more than --max-messages takes).
    options.enable_auto_commit = false;
  }
  auto consumer = Check(Consumer::Create(options));
  // Per partition: the offset after the last record printed, not yet committed.
  std::map<TopicPartition, OffsetAndMetadata> printed_upto;
  auto commit_printed = [&](const std::vector<TopicPartition>* only) {
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (auto it = printed_upto.begin(); it != printed_upto.end();) {
      if (only == nullptr || std::find(only->begin(), only->end(), it->first) != only->end()) {
        offsets.insert(*it);
        it = printed_upto.erase(it);
      } else {
        ++it;
      }
    }
    if (!offsets.empty()) Check(consumer->Commit(offsets));
  };
  if (group) {
    RebalanceListener listener;
    listener.on_revoked = [&](const std::vector<TopicPartition>& revoked) {
      commit_printed(&revoked);
    };
    Check(consumer->Subscribe({topic}, listener));
  } else {
    Check(consumer->Assign(assignment));
  }
  if (!group) {
    if (offset) {
      Check(consumer->Seek(assignment.front(), *offset));
    } else if (from_beginning) {
      Check(consumer->SeekToBeginning(assignment));
    } else if (from_timestamp) {
      for (const auto& tp : assignment) Check(consumer->SeekToTimestamp(tp, *from_timestamp));
    } else {
      Check(consumer->SeekToEnd(assignment));
    }
  }

  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  int64_t printed = 0;
  auto last_commit = std::chrono::steady_clock::now();
  while (!g_interrupted && (max_messages < 0 || printed < max_messages)) {
    if (group && std::chrono::steady_clock::now() - last_commit > std::chrono::seconds(1)) {
      commit_printed(nullptr);
      last_commit = std::chrono::steady_clock::now();
    }
    auto records = Check(consumer->Poll(200));
    for (const auto& r : records) {
      if (max_messages >= 0 && printed >= max_messages) break;
      std::string text = ctx.json ? fmt::format(
                                        "{{\"topic\":{},\"partition\":{},\"offset\":{},"
                                        "\"timestamp\":{},\"key\":{},\"value\":{}}}\n",
                                        JsonString(r.topic), r.partition, r.offset, r.timestamp_ms,
                                        r.key ? JsonString(*r.key) : "null",
                                        r.value ? JsonString(*r.value) : "null")
                                  : FormatRecord(format, r);
      std::fwrite(text.data(), 1, text.size(), stdout);
      ++printed;
      if (group) printed_upto[{r.topic, r.partition}] = {r.offset + 1, ""};
    }
    std::fflush(stdout);
  }
  if (group) {
    std::fflush(stdout);
    commit_printed(nullptr);
  }
  consumer->Close();
  return 0;
}

std::string Partitions(const std::vector<TopicPartition>& tps) {
  std::string out;
  for (const auto& tp : tps) {
    out += fmt::format("{}{}-{}", out.empty() ? "" : ",", tp.topic, tp.partition);
  }
  return out;
}

// RFC 3339 ("2026-11-23T10:00:00Z", "...+01:00", fractions allowed); UTC without a zone.
int64_t ParseDateTime(const std::string& text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return absl::ToUnixMillis(t);
  if (absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", text, absl::UTCTimeZone(), &t, &error)) {
    return absl::ToUnixMillis(t);
  }
  throw UsageError{
      fmt::format("--to-datetime needs ISO 8601 like 2026-11-23T10:00:00Z, got '{}'", text)};
}

int GroupCommand(const Context& ctx, Args& args) {
  const std::string verb = args.Next("group command (list, describe, reset-offsets, delete)");
  auto admin = MakeAdmin(ctx);
  if (verb == "list") {
    if (!args.empty()) args.Unknown();
    auto groups = Check(admin->ListGroups());
    if (ctx.json) {
      std::string out;
      for (const auto& g : groups) {
        out += fmt::format("{}{{\"group\":{},\"state\":{},\"members\":{}}}", out.empty() ? "" : ",",
                           JsonString(g.group_id), JsonString(g.state), g.members);
      }
      fmt::print("[{}]\n", out);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : groups) rows.push_back({g.group_id, g.state, std::to_string(g.members)});
    PrintTable({"GROUP", "STATE", "MEMBERS"}, rows);
    return 0;
  }
  const std::string group = args.Next("group id");
  if (verb == "describe") {
    if (!args.empty()) args.Unknown();
    auto d = Check(admin->DescribeGroup(group));
    if (ctx.json) {
      std::string members, partitions;
      for (const auto& m : d.members) {
        members += fmt::format(
            "{}{{\"member_id\":{},\"instance_id\":{},\"client_id\":{},\"epoch\":{},"
            "\"assignment\":{},\"pending\":{}}}",
            members.empty() ? "" : ",", JsonString(m.member_id), JsonString(m.instance_id),
            JsonString(m.client_id), m.member_epoch, JsonString(Partitions(m.assignment)),
            JsonString(Partitions(m.pending)));
      }
      for (const auto& p : d.partitions) {
        partitions += fmt::format(
            "{}{{\"topic\":{},\"partition\":{},\"committed\":{},\"log_end\":{},\"lag\":{},"
            "\"member_id\":{}}}",
            partitions.empty() ? "" : ",", JsonString(p.partition.topic), p.partition.partition,
            p.committed_offset, p.log_end_offset, p.lag, JsonString(p.member_id));
      }
      fmt::print(
          "{{\"group\":{},\"state\":{},\"epoch\":{},\"assignor\":{},\"members\":[{}],"
          "\"partitions\":[{}],\"total_lag\":{}}}\n",
          JsonString(d.group_id), JsonString(d.state), d.group_epoch, JsonString(d.assignor),
          members, partitions, d.total_lag);
      return 0;
    }
    fmt::print("group {}: {}, epoch {}, assignor {}, {} member(s), total lag {}\n\n", d.group_id,
               d.state, d.group_epoch, d.assignor, d.members.size(), d.total_lag);
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : d.partitions) {
      rows.push_back({p.partition.topic, std::to_string(p.partition.partition),
                      p.committed_offset >= 0 ? std::to_string(p.committed_offset) : "-",
                      std::to_string(p.log_end_offset), std::to_string(p.lag),
                      p.member_id.empty() ? "-" : p.member_id});
    }
    PrintTable({"TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"}, rows);
    if (!d.members.empty()) {
      fmt::print("\n");
      rows.clear();
      for (const auto& m : d.members) {
        rows.push_back({m.member_id, m.instance_id.empty() ? "-" : m.instance_id, m.client_id,
                        std::to_string(m.member_epoch), Partitions(m.assignment),
                        m.pending.empty() ? "-" : Partitions(m.pending)});
      }
      PrintTable({"MEMBER", "INSTANCE", "CLIENT", "EPOCH", "ASSIGNMENT", "PENDING"}, rows);
    }
    return 0;
  }
  if (verb == "delete") {
    if (!args.empty()) args.Unknown();
    Check(admin->DeleteGroup(group));
    fmt::print("deleted group {}\n", group);
    return 0;
  }
  if (verb == "reset-offsets") {
    std::optional<std::string> topic;
    std::vector<int32_t> partitions;
    std::optional<GroupOffsetTarget> target;
    bool execute = false;
    auto set_target = [&](GroupOffsetTarget t) {
      if (target) {
        throw UsageError{
            "use one of --to-earliest, --to-latest, --to-offset, --to-datetime, "
            "--shift-by"};
      }
      target = t;
    };
    while (!args.empty()) {
      if (auto v = args.Flag("--topic")) {
        topic = *v;
      } else if (auto v = args.Flag("--partition")) {
        partitions.push_back(static_cast<int32_t>(ParseInt("--partition", *v, 0)));
      } else if (args.Switch("--to-earliest")) {
        set_target({GroupOffsetTarget::kEarliest, 0});
      } else if (args.Switch("--to-latest")) {
        set_target({GroupOffsetTarget::kLatest, 0});
      } else if (auto v = args.Flag("--to-offset")) {
        set_target({GroupOffsetTarget::kOffset, ParseInt("--to-offset", *v, 0)});
      } else if (auto v = args.Flag("--to-datetime")) {
        set_target({GroupOffsetTarget::kTimestamp, ParseDateTime(*v)});
      } else if (auto v = args.Flag("--shift-by")) {
        set_target({GroupOffsetTarget::kShiftBy,
                    ParseInt("--shift-by", *v, std::numeric_limits<int64_t>::min())});
      } else if (args.Switch("--execute")) {
        execute = true;
      } else {
        args.Unknown();
      }
    }
    if (!topic) throw UsageError{"reset-offsets needs --topic"};
    if (!target) {
      throw UsageError{
          "reset-offsets needs one of --to-earliest, --to-latest, --to-offset, "
          "--to-datetime, --shift-by"};
    }
    auto changes = Check(admin->ResetGroupOffsets(group, *topic, partitions, *target, execute));
    if (ctx.json) {
      std::string out;
      for (const auto& c : changes) {
        out += fmt::format("{}{{\"partition\":{},\"previous\":{},\"new\":{}}}",
                           out.empty() ? "" : ",", c.partition, c.previous_offset, c.new_offset);
      }
      fmt::print("{{\"executed\":{},\"partitions\":[{}]}}\n", execute ? "true" : "false", out);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : changes) {
      rows.push_back({*topic, std::to_string(c.partition),
                      c.previous_offset >= 0 ? std::to_string(c.previous_offset) : "-",
                      std::to_string(c.new_offset)});
    }
    PrintTable({"TOPIC", "PARTITION", "PREVIOUS", "NEW"}, rows);
    fmt::print("{}\n", execute
                           ? "offsets reset"
                           : "dry run: nothing changed (add --execute to commit these offsets)");
    return 0;
  }
  throw UsageError{fmt::format("unknown group command '{}'", verb)};
}

int OffsetsCommand(const Context& ctx, Args& args) {
  const std::string topic = args.Next("topic");
  if (!args.empty()) args.Unknown();
  auto admin = MakeAdmin(ctx);
  auto earliest = Check(admin->ListOffsets(topic, OffsetSpec{OffsetSpec::kEarliest}));
  auto latest = Check(admin->ListOffsets(topic, OffsetSpec{OffsetSpec::kLatest}));
  if (ctx.json) {
    std::string out;
    for (const auto& [p, start] : earliest) {
      out += fmt::format("{}{{\"partition\":{},\"earliest\":{},\"latest\":{}}}",
                         out.empty() ? "" : ",", p, start, latest[p]);
    }
    fmt::print("[{}]\n", out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [p, start] : earliest) {
    rows.push_back({std::to_string(p), std::to_string(start), std::to_string(latest[p])});
  }
  PrintTable({"PARTITION", "EARLIEST", "LATEST"}, rows);
  return 0;
}

int ClusterCommand(const Context& ctx, Args& args) {
  const std::string verb = args.Next("cluster command (status)");
  if (verb != "status") throw UsageError{fmt::format("unknown cluster command '{}'", verb)};
  if (!args.empty()) args.Unknown();
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

int main(int argc, char** argv) {
  Context ctx;
  const char* env = std::getenv("RILL_BROKERS");
  ctx.client.bootstrap_brokers = env && *env ? env : "127.0.0.1:9290";
  ctx.client.request_timeout_ms = 10000;
  try {
    // Global options may stand anywhere, as with rpk.
    std::vector<std::string> rest;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto take = [&](const std::string& name) -> std::optional<std::string> {
        if (arg == name) {
          if (i + 1 >= argc) throw UsageError{fmt::format("{} needs a value", name)};
          return std::string(argv[++i]);
        }
        if (arg.rfind(name + "=", 0) == 0) return arg.substr(name.size() + 1);
        return std::nullopt;
      };
      if (auto v = take("--brokers")) {
        ctx.client.bootstrap_brokers = *v;
      } else if (auto v = take("--output")) {
        if (*v != "table" && *v != "json") throw UsageError{"--output is table or json"};
        ctx.json = *v == "json";
      } else if (arg == "--help" || arg == "-h") {
        fmt::print("{}", kUsage);
        return 0;
      } else if (arg == "--version") {
        fmt::print("rillctl {}\n", RILL_VERSION_STRING);
        return 0;
      } else {
        rest.push_back(arg);
      }
    }
    Args args(std::move(rest));
    const std::string command = args.Next("command");
    if (command == "topic") return TopicCommand(ctx, args);
    if (command == "produce") return ProduceCommand(ctx, args);
    if (command == "consume") return ConsumeCommand(ctx, args);
    if (command == "offsets") return OffsetsCommand(ctx, args);
    if (command == "cluster") return ClusterCommand(ctx, args);
    if (command == "group") return GroupCommand(ctx, args);
    throw UsageError{fmt::format("unknown command '{}'", command)};
  } catch (const UsageError& e) {
    fmt::print(stderr, "rillctl: {} (see rillctl --help)\n", e.message);
    return 2;
  } catch (const Failure& f) {
    fmt::print(stderr, "rillctl: {}\n", f.status().message());
    return 1;
  }
}
