// rillctl: the operator's command line for Rill (habits of kafka-topics.sh, rpk and kcat).
// `rillctl --help` lists the commands, `rillctl COMMAND --help` explains one; docs/operations.md
// describes them.
//
// Exit status: 0 on success, 1 when the operation failed (one line on stderr saying why),
// 2 for bad usage.
#include <cstdlib>

#include "base/fmt_absl.h"
#include "rill/version.h"
#include "tools/rillctl/commands.h"

namespace {

using namespace rill::ctl;

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto part :
       {TopicCommands(), ProduceCommands(), ConsumeCommands(), GroupCommands(), PartitionCommands(),
        InfoCommands()}) {
    for (auto& c : part) all.push_back(std::move(c));
  }
  return all;
}

// The summary up to its first full stop, colon, semicolon or parenthesis: one short line.
std::string Brief(const std::string& summary) {
  const auto end = summary.find_first_of(".:;(");
  std::string brief = summary.substr(0, end);
  while (!brief.empty() && (brief.back() == ' ' || brief.back() == ',')) brief.pop_back();
  return brief;
}

// The commands under `prefix` ("" for all), one line each.
std::string Overview(const std::vector<Command>& commands, const std::string& prefix) {
  std::string out = prefix.empty()
                        ? "usage: rillctl [-b BROKERS] [--output table|json] COMMAND ...\n"
                        : fmt::format("usage: rillctl {} COMMAND ...\n", prefix);
  out += "\nCommands:\n";
  for (const auto& c : commands) {
    if (!prefix.empty() && !c.spec.path.starts_with(prefix + " ")) continue;
    const std::string usage =
        c.spec.path + (c.spec.positionals.empty() ? "" : " " + c.spec.positionals);
    out += fmt::format("  {:<30} {}\n", usage, Brief(c.spec.summary));
  }
  out += fmt::format("\n`rillctl {}COMMAND --help` explains a command and its options.\n",
                     prefix.empty() ? "" : prefix + " ");
  if (prefix.empty()) {
    out += "\nGlobal options (anywhere on the line):\n" + FormatOptions(GlobalOptions());
  }
  return out;
}

int Run(int argc, char** argv) {
  const std::vector<Command> commands = AllCommands();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "help") {
    args.erase(args.begin());
    args.push_back("--help");
  }
  // The command's words: the first arguments that are not global options or their values.
  std::vector<size_t> word_at;
  bool help = false;
  for (size_t i = 0; i < args.size() && word_at.size() < 2; ++i) {
    const std::string& arg = args[i];
    if (arg == "--version") {
      fmt::print("rillctl {}\n", RILL_VERSION_STRING);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (const size_t span = GlobalOptionSpan(args, i); span > 0) {
      i += span - 1;
      continue;
    }
    if (arg.starts_with("-")) {
      // Before the command only global options may stand; after it, the command parses.
      if (word_at.empty()) {
        throw UsageError{fmt::format("unknown option '{}' (see rillctl --help)", arg)};
      }
      break;
    }
    word_at.push_back(i);
  }
  if (word_at.empty()) {
    if (help) {
      fmt::print("{}", Overview(commands, ""));
      return 0;
    }
    throw UsageError{"missing command (see rillctl --help)"};
  }
  const std::string first = args[word_at[0]];
  const Command* command = nullptr;
  bool is_group = false;
  for (const auto& c : commands) {
    if (c.spec.path == first) command = &c;
    if (c.spec.path.starts_with(first + " ")) is_group = true;
  }
  size_t words = 1;
  if (is_group) {
    const std::string path = word_at.size() > 1 ? first + " " + args[word_at[1]] : std::string();
    for (const auto& c : commands) {
      if (c.spec.path == path) command = &c;
    }
    if (command == nullptr) {
      if (help || word_at.size() < 2) {
        if (help) {
          fmt::print("{}", Overview(commands, first));
          return 0;
        }
        throw UsageError{fmt::format("{} needs a command (see rillctl {} --help)", first, first)};
      }
      throw UsageError{fmt::format("unknown command '{} {}' (see rillctl {} --help)", first,
                                   args[word_at[1]], first)};
    }
    words = 2;
  }
  if (command == nullptr) {
    throw UsageError{fmt::format("unknown command '{}' (see rillctl --help)", first)};
  }
  for (size_t k = words; k-- > 0;)
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(word_at[k]));
  const ParsedArgs parsed = Parse(command->spec, args);
  if (parsed.Has("--help")) {
    fmt::print("{}", Help(command->spec));
    return 0;
  }
  if (parsed.Has("--version")) {
    fmt::print("rillctl {}\n", RILL_VERSION_STRING);
    return 0;
  }
  Context ctx;
  const char* env = std::getenv("RILL_BROKERS");
  ctx.client.bootstrap_brokers = env && *env ? env : "127.0.0.1:9290";
  ctx.client.request_timeout_ms = 10000;
  if (auto v = parsed.Value("--brokers")) {
    if (v->empty()) throw UsageError{"--brokers must not be empty"};
    ctx.client.bootstrap_brokers = *v;
  }
  if (auto v = parsed.Value("--output")) {
    if (*v != "table" && *v != "json") throw UsageError{"--output is table or json"};
    ctx.json = *v == "json";
  }
  return command->run(ctx, parsed);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const UsageError& e) {
    fmt::print(stderr, "rillctl: {}\n", e.message);
    return 2;
  } catch (const Failure& f) {
    fmt::print(stderr, "rillctl: {}\n", f.status().message());
    return 1;
  }
}
