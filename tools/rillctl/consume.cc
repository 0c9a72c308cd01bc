// rillctl consume: prints records, as kcat -C and rpk consume.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <set>
#include <thread>

#include "base/fmt_absl.h"
#include "re2/re2.h"
#include "rill/consumer.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

std::atomic<bool> g_interrupted{false};

// True for errors of reaching the cluster (the SDK's Unavailable / DeadlineExceeded), which are
// worth retrying, as opposed to API errors such as UNKNOWN_TOPIC.
bool IsUnreachable(const absl::Status& s) {
  return ErrorCodeOf(s) == ErrorCode::kNone &&
         (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s));
}

// Runs `call` until it gets through to the cluster, saying on stderr that it waits.
template <typename T>
T WhenReachable(const Context& ctx, const std::function<absl::StatusOr<T>()>& call) {
  bool told = false;
  while (true) {
    auto result = call();
    if (result.ok() || !IsUnreachable(result.status()) || g_interrupted) {
      if (told && result.ok()) fmt::print(stderr, "rillctl: connected\n");
      return Check(std::move(result));
    }
    if (!told) {
      fmt::print(stderr, "rillctl: cannot reach {}: {}; retrying (Ctrl-C to stop)\n",
                 ctx.client.bootstrap_brokers, result.status().message());
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

struct Output {
  bool json = false;
  OutputFormat format;
  std::string null_marker;

  void Print(const ConsumerRecord& r) const {
    std::string text = json ? JsonRecord(r) + "\n" : format.Format(r, null_marker);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
};

Output MakeOutput(const Context& ctx, const ParsedArgs& args) {
  Output out;
  std::string format = args.Value("--format").value_or("%s\\n");
  out.json = ctx.json || format == "json";
  if (!out.json) {
    auto parsed = OutputFormat::Parse(format);
    if (!parsed.ok()) throw UsageError{fmt::format("--format: {}", parsed.status().message())};
    out.format = std::move(*parsed);
  }
  if (args.Has("--print-nulls")) out.null_marker = "NULL";
  if (auto v = args.Value("--null-marker")) out.null_marker = *v;
  return out;
}

// The topics named, and those --regex matches (in full).
std::vector<std::string> ResolveTopics(const Context& ctx, const ParsedArgs& args, Admin& admin) {
  std::vector<std::string> topics = args.positionals();
  if (auto pattern = args.Value("--regex")) {
    RE2 re(*pattern);
    if (!re.ok()) throw UsageError{fmt::format("--regex: {}", re.error())};
    auto listed = WhenReachable<std::vector<TopicListing>>(
        ctx, [&]() { return admin.ListTopics(/*include_internal=*/false); });
    for (const auto& t : listed) {
      if (RE2::FullMatch(t.name, re) &&
          std::find(topics.begin(), topics.end(), t.name) == topics.end()) {
        topics.push_back(t.name);
      }
    }
    if (topics.empty()) {
      throw Failure(absl::NotFoundError(fmt::format("no topic matches --regex '{}'", *pattern)));
    }
  }
  if (topics.empty()) throw UsageError{"consume needs a TOPIC or --regex"};
  return topics;
}

OffsetReset ParseReset(const ParsedArgs& args) {
  auto v = args.Value("--offset-reset");
  if (!v) return OffsetReset::kNone;
  if (*v == "earliest") return OffsetReset::kEarliest;
  if (*v == "latest") return OffsetReset::kLatest;
  throw UsageError{fmt::format("--offset-reset is earliest or latest, not '{}'", *v)};
}

std::optional<StartOffset> ParseStart(const ParsedArgs& args) {
  std::vector<StartOffset> given;
  if (auto v = args.Value("--offset")) {
    auto start = ParseStartOffset(*v);
    if (!start.ok()) throw UsageError{fmt::format("--offset: {}", start.status().message())};
    given.push_back(*start);
  }
  if (args.Has("--from-beginning")) given.push_back({StartOffset::kBeginning, 0});
  if (auto v = args.Value("--from-timestamp")) {
    auto ts = ParseTimestamp(*v);
    if (!ts.ok()) throw UsageError{fmt::format("--from-timestamp: {}", ts.status().message())};
    given.push_back({StartOffset::kTimestamp, *ts});
  }
  if (given.size() > 1) {
    throw UsageError{"use only one of --offset, --from-beginning and --from-timestamp"};
  }
  if (given.empty()) return std::nullopt;
  return given.front();
}

// Moves every partition of `assignment` to `start`.
void Position(Admin& admin, Consumer& consumer, const std::vector<TopicPartition>& assignment,
              const StartOffset& start, OffsetReset reset) {
  switch (start.kind) {
    case StartOffset::kBeginning:
      Check(consumer.SeekToBeginning(assignment));
      return;
    case StartOffset::kEnd:
      Check(consumer.SeekToEnd(assignment));
      return;
    case StartOffset::kTimestamp:
      for (const auto& tp : assignment) Check(consumer.SeekToTimestamp(tp, start.value));
      return;
    case StartOffset::kAbsolute:
    case StartOffset::kFromEnd:
    case StartOffset::kFromStart:
      break;
  }
  std::map<std::string, std::pair<std::map<int32_t, int64_t>, std::map<int32_t, int64_t>>> ranges;
  for (const auto& tp : assignment) {
    if (ranges.contains(tp.topic)) continue;
    ranges[tp.topic] = {Check(admin.ListOffsets(tp.topic, OffsetSpec{OffsetSpec::kEarliest})),
                        Check(admin.ListOffsets(tp.topic, OffsetSpec{OffsetSpec::kLatest}))};
  }
  for (const auto& tp : assignment) {
    const int64_t first = ranges[tp.topic].first[tp.partition];
    const int64_t end = ranges[tp.topic].second[tp.partition];
    if (start.kind == StartOffset::kAbsolute) {
      // Checked here rather than left to the consumer, so that --exit-at-end cannot take an
      // offset past the end for the end.
      int64_t offset = start.value;
      if ((offset < first || offset > end) && reset == OffsetReset::kNone) {
        throw Failure(absl::OutOfRangeError(fmt::format(
            "OFFSET_OUT_OF_RANGE: {}-{}: offset {} is outside [{}, {}] (--offset-reset earliest "
            "or latest says where to go instead)",
            tp.topic, tp.partition, offset, first, end)));
      }
      if (offset < first || offset > end) offset = reset == OffsetReset::kEarliest ? first : end;
      Check(consumer.Seek(tp, offset));
      continue;
    }
    // Relative offsets stop at the log's ends: "the last 10" of a 4-record log is all 4.
    const int64_t offset = start.kind == StartOffset::kFromEnd ? std::max(first, end - start.value)
                                                               : std::min(end, first + start.value);
    Check(consumer.Seek(tp, offset));
  }
}

int Consume(const Context& ctx, const ParsedArgs& args) {
  const Output output = MakeOutput(ctx, args);
  const std::optional<StartOffset> start = ParseStart(args);
  const std::vector<int32_t> partitions = PartitionFlags(args);
  const std::optional<std::string> group = args.Value("--group");
  const bool exit_at_end = args.Has("--exit-at-end");
  int64_t count = -1;
  for (const char* flag : {"--count", "--max-messages"}) {
    if (auto v = args.Value(flag)) count = ParseInt(flag, *v, 1);
  }
  if (group && (start || !partitions.empty())) {
    throw UsageError{
        "--group reads the group's partitions from its committed offsets; --partition, "
        "--offset and --from-* do not combine with it (reset the group's offsets instead)"};
  }

  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  auto admin = MakeAdmin(ctx);
  const std::vector<std::string> topics = ResolveTopics(ctx, args, *admin);
  std::vector<TopicPartition> assignment;
  for (const auto& topic : topics) {
    auto description =
        WhenReachable<TopicDescription>(ctx, [&]() { return admin->DescribeTopic(topic); });
    for (int32_t p : partitions) {
      if (p >= static_cast<int32_t>(description.partitions.size())) {
        throw Failure(absl::NotFoundError(
            fmt::format("UNKNOWN_PARTITION: topic '{}' has no partition {}", topic, p)));
      }
    }
    for (const auto& p : description.partitions) {
      if (partitions.empty() ||
          std::find(partitions.begin(), partitions.end(), p.partition) != partitions.end()) {
        assignment.push_back({topic, p.partition});
      }
    }
  }

  ConsumerOptions options;
  options.client = ctx.client;
  options.seek_offset_reset = ParseReset(args);
  // --offset-reset also says where any other position out of range goes; without it a new
  // group starts at the earliest offset, as kafka-console-consumer's does.
  if (args.Has("--offset-reset")) {
    options.auto_offset_reset = options.seek_offset_reset;
  } else if (group) {
    options.auto_offset_reset = OffsetReset::kEarliest;
  }
  options.on_connection_status = [](const absl::Status& s) {
    if (s.ok()) {
      fmt::print(stderr, "rillctl: reconnected\n");
    } else {
      fmt::print(stderr, "rillctl: {}; retrying\n", s.message());
    }
  };
  if (group) {
    options.group_id = *group;
    options.client_id = "rillctl";
    // Commits exactly what was printed (a Poll may return more than --count takes).
    options.enable_auto_commit = false;
  }
  auto consumer = Check(Consumer::Create(options));

  // The end of each partition when it was assigned, for --exit-at-end.
  std::map<TopicPartition, int64_t> ends;
  auto record_ends = [&](const std::vector<TopicPartition>& tps) {
    std::set<std::string> names;
    for (const auto& tp : tps) names.insert(tp.topic);
    for (const auto& topic : names) {
      auto latest = Check(admin->ListOffsets(topic, OffsetSpec{OffsetSpec::kLatest}));
      for (const auto& tp : tps) {
        if (tp.topic == topic) ends[tp] = latest[tp.partition];
      }
    }
  };
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
      for (const auto& tp : revoked) ends.erase(tp);
    };
    listener.on_assigned = [&](const std::vector<TopicPartition>& assigned) {
      if (exit_at_end) record_ends(assigned);
    };
    listener.on_lost = [&](const std::vector<TopicPartition>& lost) {
      for (const auto& tp : lost) {
        ends.erase(tp);
        printed_upto.erase(tp);
      }
    };
    if (auto pattern = args.Value("--regex"); pattern && args.positionals().empty()) {
      Check(consumer->SubscribePattern(*pattern, listener));
    } else {
      Check(consumer->Subscribe(topics, listener));
    }
  } else {
    Check(consumer->Assign(assignment));
    Position(*admin, *consumer, assignment, start.value_or(StartOffset{StartOffset::kEnd, 0}),
             options.seek_offset_reset);
    if (exit_at_end) record_ends(assignment);
  }
  // Every partition read has reached the end it had when it was assigned.
  auto at_end = [&]() {
    if (ends.empty()) return false;
    for (const auto& [tp, end] : ends) {
      auto position = consumer->Position(tp);
      if (!position.ok() || *position < end) return false;
    }
    return true;
  };

  int64_t printed = 0;
  auto last_commit = std::chrono::steady_clock::now();
  while (!g_interrupted && (count < 0 || printed < count)) {
    if (exit_at_end && at_end()) break;
    if (group && std::chrono::steady_clock::now() - last_commit > std::chrono::seconds(1)) {
      commit_printed(nullptr);
      last_commit = std::chrono::steady_clock::now();
    }
    auto records = Check(consumer->Poll(200));
    for (const auto& r : records) {
      if (count >= 0 && printed >= count) break;
      output.Print(r);
      ++printed;
      if (group) printed_upto[{r.topic, r.partition}] = {r.offset + 1, ""};
    }
    std::fflush(stdout);
  }
  std::fflush(stdout);
  const size_t partitions_read = ends.size();
  if (group) commit_printed(nullptr);
  consumer->Close();
  if (exit_at_end && !g_interrupted && (count < 0 || printed < count)) {
    fmt::print(stderr, "rillctl: reached the end of {} partition(s) after {} record(s)\n",
               partitions_read, printed);
  }
  return 0;
}

}  // namespace

std::vector<Command> ConsumeCommands() {
  return {
      {{"consume",
        "TOPIC...",
        0,
        1000,
        "Prints records of one or more topics; follows them until interrupted unless --count "
        "or --exit-at-end says when to stop.",
        {{"--regex", 0, "RE", "also every topic whose whole name matches RE (RE2)"},
         {"--partition", 'p', "P", "only this partition (repeatable; default: all)"},
         {"--offset", 'o', "OFFSET", "where to start in every partition read, see below"},
         {"--from-beginning", 0, "", "the same as -o beginning"},
         {"--from-timestamp", 0, "T", "the same as -o @T"},
         {"--offset-reset", 0, "POLICY",
          "earliest or latest: where to go when an offset is out of range (default: fail)"},
         {"--exit-at-end", 'e', "", "stop at the end of every partition read"},
         {"--count", 'c', "N", "stop after N records"},
         {"--max-messages", 0, "N", "the same as --count"},
         {"--format", 'f', "FMT", "how to print a record (default %s\\n), or json"},
         {"--print-nulls", 'Z', "", "print a null key or value as NULL"},
         {"--null-marker", 0, "TEXT", "print a null key or value as TEXT"},
         {"--group", 'G', "GROUP",
          "read as a member of GROUP: its partitions, from its committed offsets "
          "(earliest when none), committing what was printed"}},
        "OFFSET: beginning (or start, earliest), end (or latest; the default), N (that offset\n"
        "in every partition read), -N or end-N (N before the end), +N or start+N (N after\n"
        "the start), @T (the first record at or after T, epoch ms or a date such as\n"
        "2026-11-23T10:00:00Z, 2026-11-23 10:00:00 (UTC) or 2026-11-23). Relative offsets stop\n"
        "at the log's ends; an absolute one outside the log is an error unless --offset-reset\n"
        "says where to go instead.\n"
        "FMT, as kcat: %t topic, %p partition, %o offset, %k key, %s value, %K and %S their\n"
        "lengths (-1 for null), %T timestamp (ms), %h headers (k=v,...), %% a percent sign;\n"
        "escapes \\n \\t \\r \\0 \\\\ \\xNN. Null keys and values print as nothing unless\n"
        "-Z or --null-marker. json (or --output json) prints one object a line with headers;\n"
        "null stays null, and bytes that are not UTF-8 are given as key_base64/value_base64.\n"},
       Consume}};
}

}  // namespace rill::ctl
