// rillctl's command line: every command declares its options once (long name, short letter,
// value, help), and the same declaration parses the arguments and prints `--help`.
//
// Parsing rules, as rpk's: `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`; `--` ends
// the options. An argument that starts with '-' where a positional (a topic, a group) is
// expected is an unknown option, never a name. Inside a command, failures are thrown as
// UsageError (exit 2) or Failure (exit 1) and caught by main.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rill::ctl {

struct UsageError {
  std::string message;
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
inline void Check(const absl::Status& status) {
  if (!status.ok()) throw Failure(status);
}

struct OptionSpec {
  std::string name;     // "--partition"
  char short_name = 0;  // 'p', or 0
  // What the value is called in help ("N"); empty for a switch.
  std::string value;
  std::string help;
};

struct CommandSpec {
  std::string path;  // "topic create"
  // The positionals as help shows them ("NAME..."); `min_positionals`..`max_positionals`.
  std::string positionals;
  size_t min_positionals = 0;
  size_t max_positionals = 0;
  std::string summary;
  std::vector<OptionSpec> options;
  // More help after the options: formats, examples.
  std::string details;
};

class ParsedArgs {
 public:
  bool Has(const std::string& name) const { return values_.contains(name); }
  // The last value given.
  std::optional<std::string> Value(const std::string& name) const;
  std::vector<std::string> Values(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend ParsedArgs Parse(const CommandSpec& spec, const std::vector<std::string>& args);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

// The options every command takes.
const std::vector<OptionSpec>& GlobalOptions();

// Throws UsageError naming the command for anything the spec does not allow. `--help` is
// returned as a switch for the caller to act on.
ParsedArgs Parse(const CommandSpec& spec, const std::vector<std::string>& args);

// `rillctl PATH --help`.
std::string Help(const CommandSpec& spec);
// One help line per option, as Help prints them.
std::string FormatOptions(const std::vector<OptionSpec>& options);

// How many arguments from args[i] on a global option spans (the option and a separate value);
// 0 when args[i] is not one. For telling the command's words from the options around them.
size_t GlobalOptionSpan(const std::vector<std::string>& args, size_t i);

// Integer flag values, with the flag's name in the error.
int64_t ParseInt(const std::string& flag, const std::string& text, int64_t min,
                 int64_t max = INT64_MAX);
// A byte count: an integer with an optional binary suffix K, M or G ("50M" = 50 MiB), from 0
// to 1 TiB.
int64_t ParseBytes(const std::string& flag, const std::string& text);
// "a,b,c" as its items; an empty item is a usage error.
std::vector<std::string> SplitList(const std::string& flag, const std::string& text);

}  // namespace rill::ctl
