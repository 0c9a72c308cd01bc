#include <catch2/catch.hpp>

#include "tools/rillctl/cli.h"

using namespace rill::ctl;

namespace {

CommandSpec Spec() {
  return {"topic create",
          "NAME...",
          1,
          3,
          "Creates topics.",
          {{"--partitions", 'p', "N", "partitions"}, {"--if-not-exists", 0, "", "ok if there"}},
          "More words.\n"};
}

std::string UsageMessage(const std::vector<std::string>& args) {
  try {
    Parse(Spec(), args);
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

}  // namespace

TEST_CASE("rillctl cli: long, short, attached and global options", "[tools]") {
  ParsedArgs a = Parse(Spec(), {"t1", "-p", "3", "t2", "--if-not-exists", "-b", "h:1"});
  CHECK(a.positionals() == std::vector<std::string>{"t1", "t2"});
  CHECK(a.Value("--partitions") == "3");
  CHECK(a.Has("--if-not-exists"));
  CHECK(a.Value("--brokers") == "h:1");
  ParsedArgs b = Parse(Spec(), {"--partitions=4", "-p5", "x", "--", "-odd-name"});
  CHECK(b.Values("--partitions") == std::vector<std::string>{"4", "5"});
  CHECK(b.Value("--partitions") == "5");
  CHECK(b.positionals() == std::vector<std::string>{"x", "-odd-name"});
  CHECK(Parse(Spec(), {"--help"}).Has("--help"));
}

TEST_CASE("rillctl cli: an option is never taken for a name, and errors name the command",
          "[tools]") {
  CHECK(UsageMessage({"-p"}) ==
        "topic create: --partitions needs a value "
        "(see rillctl topic create --help)");
  CHECK(UsageMessage({"-p", "3"}) ==
        "topic create: missing NAME... (see rillctl topic create --help)");
  CHECK(UsageMessage({"-x", "t"}) ==
        "topic create: unknown option '-x' (see rillctl topic create --help)");
  CHECK(UsageMessage({"t", "--if-not-exists=yes"}) ==
        "topic create: --if-not-exists takes no value (see rillctl topic create --help)");
  CHECK(UsageMessage({"a", "b", "c", "d"}) ==
        "topic create: unexpected argument 'd' (see rillctl topic create --help)");
}

TEST_CASE("rillctl cli: help lists the command's own options and the global ones", "[tools]") {
  const std::string help = Help(Spec());
  CHECK_THAT(help, Catch::StartsWith("usage: rillctl topic create NAME... [options]\n"));
  CHECK_THAT(help, Catch::Contains("  -p, --partitions N"));
  CHECK_THAT(help, Catch::Contains("      --if-not-exists"));
  CHECK_THAT(help, Catch::Contains("More words."));
  CHECK_THAT(help, Catch::Contains("-b, --brokers LIST"));
}

TEST_CASE("rillctl cli: integers are checked against their range", "[tools]") {
  CHECK(ParseInt("--n", "12", 0) == 12);
  CHECK_THROWS_AS(ParseInt("--n", "12x", 0), UsageError);
  CHECK_THROWS_AS(ParseInt("--n", "-1", 0), UsageError);
  CHECK_THROWS_AS(ParseInt("--n", "11", 0, 10), UsageError);
  CHECK_THROWS_AS(ParseInt("--n", "", 0), UsageError);
}

TEST_CASE("rillctl cli: byte counts take binary suffixes and are checked", "[tools]") {
  CHECK(ParseBytes("--throttle", "0") == 0);
  CHECK(ParseBytes("--throttle", "1500") == 1500);
  CHECK(ParseBytes("--throttle", "50M") == 50 << 20);
  CHECK(ParseBytes("--throttle", "2k") == 2048);
  CHECK(ParseBytes("--throttle", "1G") == int64_t{1} << 30);
  CHECK_THROWS_AS(ParseBytes("--throttle", "M"), UsageError);
  CHECK_THROWS_AS(ParseBytes("--throttle", "-5"), UsageError);
  CHECK_THROWS_AS(ParseBytes("--throttle", "5T"), UsageError);
  CHECK_THROWS_AS(ParseBytes("--throttle", "2000G"), UsageError);
}

TEST_CASE("rillctl cli: lists split on commas and refuse empty items", "[tools]") {
  CHECK(SplitList("--replicas", "1,2,4") == std::vector<std::string>{"1", "2", "4"});
  CHECK(SplitList("--replicas", "7") == std::vector<std::string>{"7"});
  CHECK_THROWS_AS(SplitList("--replicas", "1,,2"), UsageError);
  CHECK_THROWS_AS(SplitList("--replicas", ""), UsageError);
  CHECK_THROWS_AS(SplitList("--replicas", "1,"), UsageError);
}
