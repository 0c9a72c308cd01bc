// Real Kafka clients that nobody here wrote (kcat, librdkafka through confluent-kafka,
// kafka-python) against a broker's Kafka listener, and the same records read back through
// rillctl and the other way round. The Python checks are in clients/kafka_clients.py.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "format/murmur2.h"
#include "tests/support/broker_process.h"
#include "tests/support/live_test.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace rill;
using testing::RunCommand;

namespace {

const std::string kPython = "/usr/bin/python3 " RILL_KAFKA_CLIENTS_SCRIPT " ";

// A shorter wait for a new classic group's first members than Kafka's 3 s, still above zero.
testing::BrokerProcess StartBroker(const testing::TempDir& dir) {
  return testing::BrokerProcess(dir.path() + "/data",
                                {"--auto-create-topics-enable", "true", "--num-partitions", "3",
                                 "--group-initial-rebalance-delay-ms", "500"});
}

std::string Rillctl(const testing::BrokerProcess& broker) {
  return std::string(RILL_BIN_DIR) + "/rillctl --brokers " + broker.address();
}

// Runs a check of clients/kafka_clients.py; it may call rillctl (RILLCTL) to see the broker's
// side.
void Check(const std::string& check, const testing::BrokerProcess& broker,
           const std::string& topic) {
  const testing::Run run = RunCommand("RILLCTL='" + Rillctl(broker) + "' " + kPython + check +
                                      " " + broker.kafka_address() + " " + topic);
  INFO(run.output);
  CHECK(run.exit_code == 0);
}

// Runs a check against a broker of its own, started with StartBroker's settings.
void CheckWithOwnBroker(const std::string& check, const std::string& topic) {
  testing::TempDir dir;
  auto broker = StartBroker(dir);
  Check(check, broker, topic);
}

// The records kcat prints as "partition|key|value|headers" lines, by key.
std::map<std::string, std::string> ByKey(const std::string& output) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    const size_t first = line.find('|');
    const size_t second = line.find('|', first + 1);
    if (first != std::string::npos && second != std::string::npos && line[0] != '%') {
      out[line.substr(first + 1, second - first - 1)] = line;
    }
    start = end + 1;
  }
  return out;
}

// The lines of `output` that are records (kcat's own messages start with '%').
std::vector<std::string> ByLine(const std::string& output) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    if (!line.empty() && line[0] != '%') out.push_back(line);
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("kafka clients: the listener framing versions and ordering", "[kafka]") {
  CheckWithOwnBroker("framing", "unused");
}

TEST_CASE("kafka clients: confluent-kafka admin and an idempotent producer with lz4 and zstd",
          "[kafka]") {
  CheckWithOwnBroker("confluent", "idempotent");
}

TEST_CASE("kafka clients: kafka-python produce and consume with offsets for times and a resumed commit",
          "[kafka]") {
  CheckWithOwnBroker("kafka-python", "python");
}

TEST_CASE("kafka clients: a confluent-kafka group of 3 rebalances on join and leave and resumes "
          "from its commits",
          "[kafka]") {
  CheckWithOwnBroker("confluent-group", "grouped");
}

TEST_CASE("kafka clients: a kafka-python group commits and resumes and its admin lists describes "
          "and deletes groups",
          "[kafka]") {
  CheckWithOwnBroker("kafka-python-group", "pygrouped");
}

TEST_CASE("kafka clients: admin grows topics and describes alters and deletes records",
          "[kafka]") {
  CheckWithOwnBroker("admin", "administered");
}

TEST_CASE("kafka clients: a client that stops reading its answers is closed and others carry on",
          "[kafka]") {
  testing::TempDir dir;
  testing::BrokerProcess broker(dir.path() + "/data",
                                {"--auto-create-topics-enable", "true", "--num-partitions", "1",
                                 "--connections-max-idle-ms", "1000"});
  Check("stalled-reader", broker, "stalled");
}

TEST_CASE("kafka clients: a broker not caught up with the metadata says retry for a topic it "
          "does not know",
          "[kafka]") {
  testing::TempDir dir;
  // Node 1 of a quorum whose other voter never comes: it never registers or catches up.
  const std::string self = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string absent = "127.0.0.1:" + std::to_string(testing::FreePort());
  testing::BrokerProcess broker(
      dir.path() + "/data",
      {"--node-id", "1", "--cluster-id", "notservingAAAAAAAAAAAA", "--inter-broker-listen", self,
       "--controller-voters", "1@" + self + ",2@" + absent});
  Check("not-serving", broker, "orders");
}

TEST_CASE("kafka clients: kcat and rillctl read each other records", "[kafka]") {
  testing::TempDir dir;
  auto broker = StartBroker(dir);
  const std::string kcat = "kcat -b " + broker.kafka_address() + " ";
  const std::string rillctl = Rillctl(broker);

  const testing::Run metadata = RunCommand(kcat + "-L");
  INFO(metadata.output);
  REQUIRE(metadata.exit_code == 0);
  CHECK_THAT(metadata.output, Catch::Contains("broker 1 at " + broker.kafka_address()));

  // Keyed records with a header through kcat (Kafka's partitioner), read back by rillctl.
  std::string lines;
  for (int i = 0; i < 30; ++i) lines += "key-" + std::to_string(i) + ":value-" + std::to_string(i) + "\n";
  const testing::Run produced =
      RunCommand("printf '" + lines + "' | " + kcat +
                 "-P -t from-kcat -K: -H origin=kcat -X topic.partitioner=murmur2_random");
  INFO(produced.output);
  REQUIRE(produced.exit_code == 0);
  const testing::Run read = RunCommand(rillctl + " consume from-kcat --from-beginning -e -f '%p|%k|%s|%h\\n'");
  INFO(read.output);
  REQUIRE(read.exit_code == 0);
  const auto by_rillctl = ByKey(read.output);
  REQUIRE(by_rillctl.size() == 30);
  for (int i = 0; i < 30; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const int partition =
        static_cast<int>((static_cast<uint32_t>(format::Murmur2(key)) & 0x7fffffff) % 3);
    CHECK(by_rillctl.at(key) == std::to_string(partition) + "|" + key + "|value-" +
                                    std::to_string(i) + "|origin=kcat");
  }

  // Records from rillctl, read back by kcat with the same keys, values, headers and partitions.
  const testing::Run sent = RunCommand("printf '" + lines + "' | " + rillctl +
                                       " produce from-rillctl -K: -H origin=rillctl");
  INFO(sent.output);
  REQUIRE(sent.exit_code == 0);
  const testing::Run by_kcat = RunCommand(kcat + "-C -t from-rillctl -o beginning -e -f '%p|%k|%s|%h\\n'");
  INFO(by_kcat.output);
  REQUIRE(by_kcat.exit_code == 0);
  const auto kcat_records = ByKey(by_kcat.output);
  REQUIRE(kcat_records.size() == 30);
  for (int i = 0; i < 30; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const int partition =
        static_cast<int>((static_cast<uint32_t>(format::Murmur2(key)) & 0x7fffffff) % 3);
    CHECK(kcat_records.at(key) == std::to_string(partition) + "|" + key + "|value-" +
                                      std::to_string(i) + "|origin=rillctl");
  }

  // -Q: the offset of the first record at or after a time in each partition.
  const testing::Run queried = RunCommand(kcat + "-Q -t from-kcat:0:0");
  INFO(queried.output);
  CHECK(queried.exit_code == 0);
  CHECK_THAT(queried.output, Catch::Contains("from-kcat [0] offset 0"));

  // -G: a balanced consumer group reads everything and commits it; the group's next run
  // starts where it stopped, so it reads nothing.
  const std::string grouped =
      kcat + "-G kcat-group from-rillctl -X auto.offset.reset=earliest -e -f '%k\\n'";
  const testing::Run first = RunCommand(grouped);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(ByLine(first.output).size() == 30);
  const testing::Run again = RunCommand(grouped);
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(ByLine(again.output).empty());
  const testing::Run described = RunCommand(rillctl + " group describe kcat-group");
  INFO(described.output);
  CHECK(described.exit_code == 0);
  CHECK_THAT(described.output, Catch::Contains("kcat-group: Empty (classic)") && Catch::Contains("total lag 0"));
}
