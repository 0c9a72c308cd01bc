#include "broker/config.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

using rill::broker::LoadBrokerConfig;

namespace {

std::string ErrorOf(std::vector<std::string> args) {
  auto load = LoadBrokerConfig(args);
  REQUIRE_FALSE(load.ok());
  CHECK(absl::IsInvalidArgument(load.status()));
  return std::string(load.status().message());
}

}  // namespace

TEST_CASE("broker config: numbers outside a setting's range are refused, never wrapped",
          "[broker]") {
  // 2^32 used to wrap to 0 (every request refused) and 2^31 to a negative (no limit at all).
  CHECK(ErrorOf({"--max-request-bytes", "4294967296"}) ==
        "max.request.bytes: 4294967296 is outside [1024, 1073741824]");
  CHECK(ErrorOf({"--max-request-bytes", "2147483648"}) ==
        "max.request.bytes: 2147483648 is outside [1024, 1073741824]");
  CHECK(ErrorOf({"--max-request-bytes=99999999999999999999999"}) ==
        "max.request.bytes: 99999999999999999999999 is outside [1024, 1073741824]");
  CHECK(ErrorOf({"--fetch-max-bytes", "-1"}) ==
        "fetch.max.bytes: -1 is outside [1024, 1073741824]");
  CHECK(ErrorOf({"--node-id", "-5"}) == "node.id: -5 is outside [1, 2147483647]");
  CHECK(ErrorOf({"--node-id", "0"}) == "node.id: 0 is outside [1, 2147483647]");
  CHECK(ErrorOf({"--log-index-interval-bytes", "0"}) ==
        "log.index.interval.bytes: 0 is outside [1, 2147483647]");
  CHECK(ErrorOf({"--message-max-uncompressed-bytes", "1"}) ==
        "message.max.uncompressed.bytes: 1 is outside [1024, 268435456]");
  CHECK(ErrorOf({"--num-partitions", "12x"}) == "num.partitions: '12x' is not an integer");
  CHECK(ErrorOf({"--num-partitions", ""}) == "num.partitions: '' is not an integer");

  auto bounds = LoadBrokerConfig({"--max-request-bytes", "1073741824", "--node-id", "1"});
  REQUIRE(bounds.ok());
  CHECK(bounds->config.max_request_bytes == 1073741824);
  CHECK(bounds->config.node_id == 1);
}

TEST_CASE("broker config: a log level other than debug, info, warn or error is refused",
          "[broker]") {
  CHECK(ErrorOf({"--log-level", "loud"}) == "log.level: 'loud' is not debug, info, warn or error");
  auto quiet = LoadBrokerConfig({"--log-level", "warn"});
  REQUIRE(quiet.ok());
  CHECK(quiet->config.log_level == "warn");
}

TEST_CASE("broker config: --help gives each setting's default once", "[broker]") {
  auto help = LoadBrokerConfig({"--help"});
  REQUIRE(help.ok());
  CHECK_THAT(help->help_text,
             Catch::Contains("address clients are told to use (default: the bound gRPC address "
                             "(the host name for 0.0.0.0 or ::))"));
  std::istringstream lines(help->help_text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.find("(default:") == line.rfind("(default:"));
  }
}

TEST_CASE("broker config: the environment is range-checked like flags", "[broker]") {
  setenv("RILL_FETCH_MAX_WAIT_MS", "999999999", 1);
  auto load = LoadBrokerConfig({});
  unsetenv("RILL_FETCH_MAX_WAIT_MS");
  REQUIRE_FALSE(load.ok());
  CHECK(std::string(load.status().message()) ==
        "RILL_FETCH_MAX_WAIT_MS: fetch.max.wait.ms: 999999999 is outside [0, 300000]");
}

TEST_CASE("broker config: an advertised address must be one a client can connect to",
          "[broker]") {
  CHECK_THAT(ErrorOf({"--listen", "0.0.0.0:9290", "--advertise", "0.0.0.0:9290"}),
             Catch::Contains("advertise: '0.0.0.0:9290' is not an address a client can connect"));
  CHECK_THAT(ErrorOf({"--listeners", "in://0.0.0.0:9290,out://0.0.0.0:9292",
                      "--advertised-listeners", "in://rill-1:9290,out://[::]:19291"}),
             Catch::Contains("advertised.listeners: '[::]:19291'"));
  CHECK_THAT(ErrorOf({"--advertise", "localhost:0"}), Catch::Contains("not an address"));
  CHECK_THAT(ErrorOf({"--inter-broker-advertise", "0.0.0.0:9390"}),
             Catch::Contains("inter.broker.advertise: '0.0.0.0:9390'"));
  CHECK_THAT(ErrorOf({"--advertise", "nonsense"}), Catch::Contains("advertise:"));
  // Binding every interface is fine: the broker then advertises its host name.
  auto wildcard = LoadBrokerConfig({"--listen", "0.0.0.0:9290", "--inter-broker-listen",
                                    "[::]:9390", "--advertise", "localhost:9290"});
  CHECK(wildcard.ok());
  CHECK(rill::broker::IsWildcardHost("0.0.0.0"));
  CHECK(rill::broker::IsWildcardHost("::"));
  CHECK_FALSE(rill::broker::IsWildcardHost("127.0.0.1"));
}
