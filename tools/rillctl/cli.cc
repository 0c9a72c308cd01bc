#include "tools/rillctl/cli.h"

#include <charconv>

#include "fmt/format.h"

namespace rill::ctl {

std::optional<std::string> ParsedArgs::Value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

const std::vector<OptionSpec>& GlobalOptions() {
  static const std::vector<OptionSpec> options = {
      {"--brokers", 'b', "LIST",
       "bootstrap brokers, HOST:PORT,... (default: $RILL_BROKERS, else 127.0.0.1:9290)"},
      {"--output", 0, "FORMAT", "table (default) or json"},
      {"--help", 'h', "", "this help"},
      {"--version", 0, "", "rillctl's version"},
  };
  return options;
}

namespace {

const OptionSpec* FindLong(const CommandSpec& spec, const std::string& name) {
  for (const auto& o : spec.options) {
    if (o.name == name) return &o;
  }
  for (const auto& o : GlobalOptions()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const OptionSpec* FindShort(const CommandSpec& spec, char name) {
  for (const auto& o : spec.options) {
    if (o.short_name == name) return &o;
  }
  for (const auto& o : GlobalOptions()) {
    if (o.short_name == name) return &o;
  }
  return nullptr;
}

[[noreturn]] void Fail(const CommandSpec& spec, const std::string& message) {
  throw UsageError{fmt::format("{}: {} (see rillctl {} --help)", spec.path, message, spec.path)};
}

}  // namespace

ParsedArgs Parse(const CommandSpec& spec, const std::vector<std::string>& args) {
  ParsedArgs parsed;
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg == "-" || arg.empty() || arg[0] != '-') {
      parsed.positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const OptionSpec* option = nullptr;
    std::optional<std::string> value;
    if (arg.starts_with("--")) {
      const auto eq = arg.find('=');
      option = FindLong(spec, arg.substr(0, eq));
      if (option == nullptr) Fail(spec, fmt::format("unknown option '{}'", arg.substr(0, eq)));
      if (eq != std::string::npos) {
        if (option->value.empty()) Fail(spec, fmt::format("{} takes no value", option->name));
        value = arg.substr(eq + 1);
      }
    } else {
      option = FindShort(spec, arg[1]);
      if (option == nullptr) Fail(spec, fmt::format("unknown option '{}'", arg.substr(0, 2)));
      if (arg.size() > 2) {
        if (option->value.empty()) Fail(spec, fmt::format("unknown option '{}'", arg));
        value = arg.substr(2);
      }
    }
    if (!option->value.empty() && !value) {
      if (i + 1 >= args.size()) Fail(spec, fmt::format("{} needs a value", option->name));
      value = args[++i];
    }
    parsed.values_[option->name].push_back(value.value_or(""));
    if (option->name == "--help") return parsed;
  }
  const size_t n = parsed.positionals_.size();
  if (n < spec.min_positionals) {
    Fail(spec, fmt::format("missing {}", spec.positionals));
  }
  if (n > spec.max_positionals) {
    Fail(spec, fmt::format("unexpected argument '{}'", parsed.positionals_[spec.max_positionals]));
  }
  return parsed;
}

std::string FormatOptions(const std::vector<OptionSpec>& options) {
  std::string out;
  for (const auto& o : options) {
    std::string flag =
        o.short_name ? fmt::format("-{}, {}", o.short_name, o.name) : fmt::format("    {}", o.name);
    if (!o.value.empty()) flag += " " + o.value;
    out += fmt::format("  {:<30} {}\n", flag, o.help);
  }
  return out;
}

std::string Help(const CommandSpec& spec) {
  std::string out = fmt::format("usage: rillctl {}{}{}\n\n{}\n", spec.path,
                                spec.positionals.empty() ? "" : " " + spec.positionals,
                                spec.options.empty() ? "" : " [options]", spec.summary);
  if (!spec.options.empty()) out += "\nOptions:\n" + FormatOptions(spec.options);
  if (!spec.details.empty()) out += "\n" + spec.details;
  return out + "\nGlobal options:\n" + FormatOptions(GlobalOptions());
}

size_t GlobalOptionSpan(const std::vector<std::string>& args, size_t i) {
  static const CommandSpec kNoCommand;
  const std::string& arg = args[i];
  if (arg.size() < 2 || arg[0] != '-') return 0;
  const bool is_long = arg.starts_with("--");
  const OptionSpec* option =
      is_long ? FindLong(kNoCommand, arg.substr(0, arg.find('='))) : FindShort(kNoCommand, arg[1]);
  if (option == nullptr) return 0;
  const bool attached = is_long ? arg.find('=') != std::string::npos : arg.size() > 2;
  return !option->value.empty() && !attached ? 2 : 1;
}

int64_t ParseInt(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || value < min || value > max) {
    if (max == INT64_MAX) {
      throw UsageError{fmt::format("{} needs an integer >= {}, got '{}'", flag, min, text)};
    }
    throw UsageError{
        fmt::format("{} needs an integer from {} to {}, got '{}'", flag, min, max, text)};
  }
  return value;
}

int64_t ParseBytes(const std::string& flag, const std::string& text) {
  constexpr int64_t kMax = int64_t{1} << 40;
  int shift = 0;
  std::string digits = text;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      default:
        break;
    }
    if (shift > 0) digits.pop_back();
  }
  int64_t value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec != std::errc() || ptr != end || digits.empty() || value < 0 ||
      value > (kMax >> shift)) {
    throw UsageError{fmt::format(
        "{} needs a byte count from 0 to 1T, optionally with K, M or G, got '{}'", flag, text)};
  }
  return value << shift;
}

std::vector<std::string> SplitList(const std::string& flag, const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item.empty()) throw UsageError{fmt::format("{}: empty item in '{}'", flag, text)};
    out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace rill::ctl
