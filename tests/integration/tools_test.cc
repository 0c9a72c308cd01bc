// The operator tools as a user runs them: real processes, exit codes and output.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage/log.h"
#include "tests/support/broker_process.h"
#include "tests/support/test_util.h"

using namespace rill;

namespace {

struct Run {
  int exit_code;
  std::string output;
};

Run RunCommand(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return Run{WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Writes `batches` batches of 4 records into a log in `dir` (segments of `segment_bytes`).
void WriteLog(const std::string& dir, int batches = 20,
              uint64_t segment_bytes = storage::LogConfig().segment_bytes) {
  storage::Flusher flusher;
  storage::LogConfig config;
  config.index_interval_bytes = 256;
  config.segment_bytes = segment_bytes;
  auto log = storage::Log::Open(
      dir, config, storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
  REQUIRE(log.ok());
  for (int i = 0; i < batches; ++i) {
    int64_t first = (*log)->next_offset().value();
    REQUIRE((*log)->AppendAndWait(testing::MakeBatch(first, 4, 40, testing::NowMs())).ok());
  }
}

}  // namespace

TEST_CASE(
    "rill-dump: prints batches, records and indexes, with exit codes that tell corruption apart",
    "[integration]") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("t-0");
  WriteLog(dir);
  const std::string dump = RILL_BIN_DIR "/rill-dump";
  const std::string segment = dir + "/00000000000000000000.log";

  Run all = RunCommand(dump + " --records " + dir);
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.output, Catch::Contains("baseOffset: 76 lastOffset: 79 count: 4"));
  CHECK_THAT(all.output, Catch::Contains("| offset: 79 "));
  CHECK_THAT(all.output, Catch::Contains("key: k79"));

  Run index = RunCommand(dump + " " + dir + "/00000000000000000000.index");
  CHECK(index.exit_code == 0);
  CHECK_THAT(index.output, Catch::Contains("offset: 4 position: "));
  CHECK(RunCommand(dump + " " + dir + "/00000000000000000000.timeindex").exit_code == 0);

  SECTION("a flipped payload bit is reported with exit code 1") {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(300);
    file.put('\x5a');
    file.close();
    Run corrupt = RunCommand(dump + " " + segment);
    CHECK(corrupt.exit_code == 1);
    CHECK_THAT(corrupt.output, Catch::Contains("crcValid: false"));
  }
  SECTION("a truncated batch is reported with exit code 1") {
    std::filesystem::resize_file(segment, std::filesystem::file_size(segment) - 7);
    Run torn = RunCommand(dump + " " + segment);
    CHECK(torn.exit_code == 1);
    CHECK_THAT(torn.output, Catch::Contains("ERROR: batch at position"));
  }
  SECTION("bad usage exits with 2 and says why") {
    CHECK(RunCommand(dump).exit_code == 2);
    Run missing = RunCommand(dump + " " + tmp.Sub("nope.log"));
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.output, Catch::Contains("no such file"));
    CHECK(RunCommand(dump + " --max-batches x " + segment).exit_code == 2);
    CHECK(RunCommand(dump + " --bogus " + segment).exit_code == 2);
  }
}

TEST_CASE(
    "rill-broker: a port another process listens on fails the start, exit 1, before anything "
    "is written",
    "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess first(tmp.path() + "/first");
  const std::string taken_grpc = first.address();
  const std::string taken_admin = first.admin_address();
  for (const auto& [grpc, admin] : std::vector<std::pair<std::string, std::string>>{
           {taken_grpc, "127.0.0.1:0"}, {"127.0.0.1:0", taken_admin}}) {
    INFO("grpc " << grpc << ", admin " << admin);
    const std::string dir = tmp.path() + "/second";
    auto second = RunCommand(std::string(RILL_BROKER_BIN) + " --listen " + grpc +
                             " --admin-listen " + admin + " --data-dir " + dir);
    CHECK(second.exit_code == 1);
    CHECK_THAT(second.output,
               Catch::Contains("cannot listen on") && Catch::Contains("ddress already in use"));
    // Nothing of the second broker: its data directory was never made.
    CHECK_FALSE(std::filesystem::exists(dir));
  }
  // A bad setting is bad usage: exit 2, before any port or directory is taken.
  auto loud = RunCommand(std::string(RILL_BROKER_BIN) + " --listen " + taken_grpc +
                         " --log-level loud --data-dir " + tmp.path() + "/loud");
  CHECK(loud.exit_code == 2);
  CHECK_THAT(loud.output, Catch::Contains("log.level: 'loud' is not debug, info, warn or error"));
  CHECK_FALSE(std::filesystem::exists(tmp.path() + "/loud"));
  // A broker that fails later (here: its data directory is a file) leaves nothing behind
  // either, and one that had a data directory keeps it as it was.
  const std::string not_a_dir = tmp.path() + "/file";
  std::ofstream(not_a_dir) << "x";
  CHECK(RunCommand(std::string(RILL_BROKER_BIN) +
                   " --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir " + not_a_dir)
            .exit_code == 1);
  CHECK(std::filesystem::is_regular_file(not_a_dir));
  // The first broker kept serving alone on its ports.
  CHECK(RunCommand(std::string(RILL_BIN_DIR) + "/rillctl --brokers " + taken_grpc + " topic list")
            .exit_code == 0);
  REQUIRE(first.Stop() == 0);
}

TEST_CASE("rill-dump: a partition directory is checked whole: indexes and missing segments",
          "[integration]") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("t-0");
  WriteLog(dir, 40, 2048);
  const std::string dump = RILL_BIN_DIR "/rill-dump ";
  std::vector<std::string> segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") segments.push_back(entry.path().string());
  }
  std::sort(segments.begin(), segments.end());
  REQUIRE(segments.size() >= 4);

  Run whole = RunCommand(dump + dir);
  CHECK(whole.exit_code == 0);
  CHECK_THAT(
      whole.output,
      Catch::Contains("Checking " + segments[1].substr(0, segments[1].size() - 4) + ".index"));
  CHECK_THAT(whole.output, !Catch::Contains("ERROR"));

  SECTION("an index entry that points where no batch starts") {
    std::string index = segments[0].substr(0, segments[0].size() - 4) + ".index";
    std::fstream file(index, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(23);
    file.put('\x07');
    file.close();
    Run bad = RunCommand(dump + dir);
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.output, Catch::Contains("no batch with this base offset at this position"));
  }
  SECTION("a segment missing from the middle") {
    std::filesystem::remove(segments[2]);
    Run gap = RunCommand(dump + dir);
    CHECK(gap.exit_code == 1);
    CHECK_THAT(gap.output, Catch::Contains("a segment is missing"));
  }
}

TEST_CASE("rillctl: create, produce from stdin, consume, describe, delete, with exit codes",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl =
      std::string("RILL_BROKERS=") + broker.address() + " " RILL_BIN_DIR "/rillctl";

  Run created = RunCommand(ctl + " topic create orders --partitions 3 --config retention.ms=60000");
  CHECK(created.exit_code == 0);
  CHECK_THAT(created.output, Catch::Contains("created topic orders"));
  Run again = RunCommand(ctl + " topic create orders --partitions 3");
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.output, Catch::Contains("TOPIC_ALREADY_EXISTS"));

  Run produced = RunCommand("printf 'a:1\\nb:2\\nc:3\\nd:4\\n' | " + ctl +
                            " produce orders --key-separator :");
  CHECK(produced.exit_code == 0);
  CHECK_THAT(produced.output, Catch::Contains("produced 4 record(s) to orders"));
  Run to_one = RunCommand("printf 'x\\ny\\n' | " + ctl + " produce orders --partition 2");
  CHECK(to_one.exit_code == 0);

  Run consumed =
      RunCommand(ctl + " consume orders --from-beginning --max-messages 6 --format '%k=%s@%p\\n'");
  CHECK(consumed.exit_code == 0);
  for (const char* expected : {"a=1@", "b=2@", "c=3@", "d=4@", "=x@2", "=y@2"}) {
    CHECK_THAT(consumed.output, Catch::Contains(expected));
  }
  Run one =
      RunCommand(ctl + " consume orders --partition 2 --offset 0 --max-messages 1 --output json");
  CHECK(one.exit_code == 0);
  CHECK_THAT(one.output, Catch::Contains("\"partition\":2,\"offset\":0"));

  Run described = RunCommand(ctl + " --output json topic describe orders");
  CHECK(described.exit_code == 0);
  CHECK_THAT(described.output, Catch::Contains("\"retention.ms\":\"60000\""));
  CHECK_THAT(described.output, Catch::Contains("\"high_watermark\""));
  Run offsets = RunCommand(ctl + " offsets orders");
  CHECK(offsets.exit_code == 0);
  CHECK_THAT(offsets.output, Catch::Contains("PARTITION  EARLIEST  LATEST"));
  CHECK(RunCommand(ctl + " topic add-partitions orders --total 5").exit_code == 0);
  CHECK(RunCommand(ctl + " topic alter-config orders --set segment.bytes=1048576").exit_code == 0);
  CHECK(RunCommand(ctl + " topic alter-config orders --set nonsense=1").exit_code == 1);
  Run status = RunCommand(ctl + " cluster status");
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.output, Catch::Contains("topics: 1, partitions: 5"));

  CHECK(RunCommand(ctl + " topic delete orders").exit_code == 0);
  Run gone = RunCommand(ctl + " topic describe orders");
  CHECK(gone.exit_code == 1);
  CHECK_THAT(gone.output, Catch::Contains("UNKNOWN_TOPIC"));

  // Bad usage is exit 2 with a one-line reason; an unreachable broker is exit 1.
  CHECK(RunCommand(ctl + " topic create").exit_code == 2);
  CHECK(RunCommand(ctl + " frobnicate").exit_code == 2);
  CHECK(RunCommand(ctl + " topic create t --partitions zero").exit_code == 2);
  CHECK(RunCommand(ctl + " consume orders --offset 3").exit_code == 2);
  Run unreachable = RunCommand(RILL_BIN_DIR "/rillctl --brokers 127.0.0.1:1 topic list");
  CHECK(unreachable.exit_code == 1);
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl: produce --compression, consume it back, rill-dump shows the records",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl =
      std::string("RILL_BROKERS=") + broker.address() + " " RILL_BIN_DIR "/rillctl";
  REQUIRE(RunCommand(ctl + " topic create zipped --partitions 1").exit_code == 0);
  Run produced =
      RunCommand("seq 1 500 | sed 's/^/row-/' | " + ctl + " produce zipped --compression zstd");
  CHECK(produced.exit_code == 0);
  CHECK_THAT(produced.output, Catch::Contains("produced 500 record(s)"));
  Run bad = RunCommand("echo x | " + ctl + " produce zipped --compression brotli");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("--compression must be"));

  Run consumed = RunCommand(ctl + " consume zipped --from-beginning --max-messages 500");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains("row-1\n"));
  CHECK_THAT(consumed.output, Catch::Contains("row-500\n"));
  REQUIRE(broker.Stop() == 0);

  Run dump = RunCommand(RILL_BIN_DIR "/rill-dump --records " + tmp.Sub("data") + "/logs/zipped-0");
  CHECK(dump.exit_code == 0);
  CHECK_THAT(dump.output, Catch::Contains("compression: zstd"));
  CHECK_THAT(dump.output, Catch::Contains("value: row-500"));
}

TEST_CASE("rillctl: consume as a group, describe its lag, reset and delete it, with exit codes",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl =
      std::string("RILL_BROKERS=") + broker.address() + " " RILL_BIN_DIR "/rillctl";
  REQUIRE(RunCommand(ctl + " topic create pay --partitions 1").exit_code == 0);
  REQUIRE(RunCommand("seq 1 10 | " + ctl + " produce pay").exit_code == 0);

  // Each run continues where the group's last one stopped, committing only what it printed.
  Run first = RunCommand(ctl + " consume pay --group billing --max-messages 4");
  CHECK(first.exit_code == 0);
  CHECK(first.output == "1\n2\n3\n4\n");
  Run second = RunCommand(ctl + " consume pay --group billing --max-messages 3");
  CHECK(second.output == "5\n6\n7\n");

  Run listed = RunCommand(ctl + " group list");
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.output, Catch::Contains("billing"));
  Run described = RunCommand(ctl + " group describe billing");
  CHECK(described.exit_code == 0);
  CHECK_THAT(described.output, Catch::Contains("total lag 3"));
  Run json = RunCommand(ctl + " --output json group describe billing");
  CHECK_THAT(json.output, Catch::Contains("\"committed\":7,\"log_end\":10,\"lag\":3"));

  Run dry = RunCommand(ctl + " group reset-offsets billing --topic pay --to-earliest");
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.output, Catch::Contains("dry run"));
  CHECK_THAT(RunCommand(ctl + " group describe billing").output, Catch::Contains("total lag 3"));
  CHECK(RunCommand(ctl + " group reset-offsets billing --topic pay --shift-by -2 --execute")
            .exit_code == 0);
  CHECK(RunCommand(ctl + " consume pay --group billing --max-messages 1").output == "6\n");
  CHECK(RunCommand(ctl +
                   " group reset-offsets billing --topic pay --to-datetime 2000-01-01T00:00:00Z "
                   "--execute")
            .exit_code == 0);
  CHECK(RunCommand(ctl + " consume pay --group billing --max-messages 1").output == "1\n");

  CHECK(RunCommand(ctl + " group reset-offsets billing --topic pay").exit_code == 2);
  CHECK(RunCommand(ctl + " group reset-offsets billing --topic pay --to-datetime soon").exit_code ==
        2);
  CHECK(RunCommand(ctl + " consume pay --group billing --partition 0").exit_code == 2);
  CHECK(RunCommand(ctl + " group delete billing").exit_code == 0);
  Run gone = RunCommand(ctl + " group describe billing");
  CHECK(gone.exit_code == 1);
  CHECK_THAT(gone.output, Catch::Contains("GROUP_NOT_FOUND"));
  CHECK(broker.Stop() == 0);
}

TEST_CASE("examples/hello_rill runs against a broker", "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  Run hello = RunCommand(RILL_BIN_DIR "/hello-rill " + broker.address());
  CHECK(hello.exit_code == 0);
  CHECK_THAT(hello.output, Catch::Contains("consumed hello-rill-"));
  CHECK(broker.Stop() == 0);
}
