// The operator tools as a user runs them: real processes, exit codes and output.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "rill/version.h"
#include "storage/log.h"
#include "tests/support/broker_process.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace rill;

namespace {

using testing::Run;
using testing::RunCommand;

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
    "rill-broker: a port another process listens on, or a data directory of another node, fails "
    "the start, exit 1, and nothing is written",
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
                             " --kafka-listeners kafka://127.0.0.1:0 --admin-listen " + admin + " --data-dir " + dir);
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
                   " --listen 127.0.0.1:0 --kafka-listeners kafka://127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir " + not_a_dir)
            .exit_code == 1);
  CHECK(std::filesystem::is_regular_file(not_a_dir));
  // The first broker kept serving alone on its ports.
  CHECK(RunCommand(std::string(RILL_BIN_DIR) + "/rillctl --brokers " + taken_grpc + " topic list")
            .exit_code == 0);
  REQUIRE(first.Stop() == 0);
  // A data directory of another node is refused, and left as it was.
  const std::string first_dir = tmp.path() + "/first";
  auto impostor = RunCommand(std::string(RILL_BROKER_BIN) +
                             " --listen 127.0.0.1:0 --kafka-listeners kafka://127.0.0.1:0 --admin-listen 127.0.0.1:0 --node-id 2 "
                             "--data-dir " +
                             first_dir);
  CHECK(impostor.exit_code == 1);
  CHECK_THAT(impostor.output,
             Catch::Contains("data directory " + first_dir +
                             " belongs to node 1, but this broker is node 2 (node.id)"));
  CHECK(std::filesystem::exists(first_dir + "/meta.properties"));
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
  CHECK_THAT(
      described.output,
      Catch::Contains("{\"name\":\"retention.ms\",\"value\":\"60000\",\"source\":\"topic\"}"));
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
  CHECK(RunCommand(ctl + " consume orders --offset soon").exit_code == 2);
  Run unreachable = RunCommand(RILL_BIN_DIR "/rillctl --brokers 127.0.0.1:1 topic list");
  CHECK(unreachable.exit_code == 1);
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl broker ready: 0 once a broker is ready, 1 with the reason otherwise",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl = RILL_BIN_DIR "/rillctl broker ready ";
  Run ready = RunCommand(ctl + broker.admin_address());
  CHECK(ready.exit_code == 0);
  CHECK_THAT(ready.output, Catch::Contains("ready"));
  // No one listening, and a port that does not speak HTTP/1 (the gRPC port).
  Run closed = RunCommand(ctl + "127.0.0.1:1");
  CHECK(closed.exit_code == 1);
  CHECK_THAT(closed.output, Catch::Contains("cannot connect to 127.0.0.1:1"));
  Run not_http = RunCommand(ctl + broker.address() + " --timeout-ms 500");
  CHECK(not_http.exit_code == 1);
  CHECK_THAT(not_http.output, Catch::Contains("no HTTP answer"));
  CHECK(RunCommand(ctl + "--timeout-ms 0").exit_code == 2);
  CHECK(RunCommand(ctl + "no-port").exit_code == 1);
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
  CHECK_THAT(bad.output, Catch::Contains("--compression is none, gzip, snappy, lz4 or zstd"));

  Run consumed = RunCommand(ctl + " consume zipped --from-beginning --max-messages 500");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains("row-1\n"));
  CHECK_THAT(consumed.output, Catch::Contains("row-500\n"));
  REQUIRE(broker.Stop() == 0);

  Run dump = RunCommand(RILL_BIN_DIR "/rill-dump --records " +
                        testing::PartitionDir(tmp.Sub("data") + "/logs", "zipped", 0));
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
  // The code is printed once: the broker's message does not repeat it.
  CHECK(gone.output == "rillctl: GROUP_NOT_FOUND: no group 'billing'\n");
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl produce: headers, null keys and values, delimiters, formats, timestamps",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl = std::string(RILL_BIN_DIR "/rillctl -b ") + broker.address();
  REQUIRE(RunCommand(ctl + " topic create t -p 1").exit_code == 0);
  const std::string all = " consume t -o beginning -e -f '%o k=%k(%K) v=%s(%S) h=%h T=%T\\n' -Z";

  SECTION("-K splits key and value; without a delimiter the key is null; -Z makes empty null") {
    REQUIRE(RunCommand("printf 'a:1\\n:2\\nb:\\nplain\\n' | " + ctl +
                       " produce t -K : -H src=cli -H bare")
                .exit_code == 0);
    REQUIRE(RunCommand("printf 'c:\\n:3\\n' | " + ctl + " produce t -K : -Z").exit_code == 0);
    Run out = RunCommand(ctl + all);
    CHECK(out.exit_code == 0);
    CHECK_THAT(out.output, Catch::Contains("0 k=a(1) v=1(1) h=src=cli,bare=NULL"));
    CHECK_THAT(out.output, Catch::Contains("1 k=(0) v=2(1) h=src=cli,bare=NULL"));
    CHECK_THAT(out.output, Catch::Contains("2 k=b(1) v=(0) h=src=cli,bare=NULL"));
    CHECK_THAT(out.output, Catch::Contains("3 k=NULL(-1) v=plain(5)"));
    CHECK_THAT(out.output, Catch::Contains("4 k=c(1) v=NULL(-1) h= "));
    CHECK_THAT(out.output, Catch::Contains("5 k=NULL(-1) v=3(1) h= "));
    CHECK_THAT(out.output, Catch::Contains("reached the end of 1 partition(s) after 6 record(s)"));
  }
  SECTION("-D splits records at any delimiter; a last record needs none") {
    REQUIRE(RunCommand("printf 'one|two\\nlines|three' | " + ctl + " produce t -D '|'").exit_code ==
            0);
    REQUIRE(RunCommand("printf 'x\\0y\\0' | " + ctl + " produce t -D '\\0'").exit_code == 0);
    Run out = RunCommand(ctl + " consume t -o beginning -e -f '[%s]'");
    CHECK_THAT(out.output, Catch::StartsWith("[one][two\nlines][three][x][y]"));
  }
  SECTION("-f reads key, headers, timestamp and value from each line") {
    REQUIRE(RunCommand("printf 'k1\\ttrace=ab,tenant=7\\t2026-01-02T03:04:05Z\\t{\"v\":1}\\n' | " +
                       ctl + " produce t -f '%k\\t%h\\t%T\\t%s'")
                .exit_code == 0);
    Run out = RunCommand(ctl + all);
    CHECK_THAT(out.output,
               Catch::Contains("0 k=k1(2) v={\"v\":1}(7) h=trace=ab,tenant=7 T=1767323045000"));
    Run bad = RunCommand("printf 'no tabs\\n' | " + ctl + " produce t -f '%k\\t%s'");
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.output, Catch::Contains("record 1 does not match --format"));
    CHECK(RunCommand("echo x | " + ctl + " produce t -f '%q'").exit_code == 2);
  }
  SECTION("--timestamp, --acks and --linger-ms") {
    REQUIRE(RunCommand("echo dated | " + ctl +
                       " produce t --timestamp 2026-03-01 --acks leader --linger-ms 0")
                .exit_code == 0);
    REQUIRE(RunCommand("echo ms | " + ctl + " produce t --timestamp 1767323045000 --acks none")
                .exit_code == 0);
    Run out = RunCommand(ctl + all);
    CHECK_THAT(out.output, Catch::Contains("v=dated(5) h= T=1772323200000"));
    CHECK_THAT(out.output, Catch::Contains("v=ms(2) h= T=1767323045000"));
    CHECK(RunCommand("echo x | " + ctl + " produce t --acks most").exit_code == 2);
    CHECK(RunCommand("echo x | " + ctl + " produce t --linger-ms -1").exit_code == 2);
    CHECK(RunCommand("echo x | " + ctl + " produce t --timestamp yesterday").exit_code == 2);
  }
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl consume: topics and regexes, -e, relative and dated offsets, JSON, formats",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl = std::string(RILL_BIN_DIR "/rillctl -b ") + broker.address();
  REQUIRE(RunCommand(ctl + " topic create logs-a logs-b -p 2").exit_code == 0);
  REQUIRE(RunCommand(ctl + " topic create other -p 1").exit_code == 0);
  REQUIRE(RunCommand("seq 0 9 | " + ctl + " produce logs-a -p 0").exit_code == 0);
  REQUIRE(RunCommand("seq 100 104 | " + ctl + " produce logs-a -p 1").exit_code == 0);
  REQUIRE(RunCommand("echo b | " + ctl + " produce logs-b -p 1").exit_code == 0);
  REQUIRE(RunCommand("echo o | " + ctl + " produce other").exit_code == 0);

  SECTION("several topics and a regex; -e stops at the end of every partition") {
    Run named = RunCommand(ctl + " consume logs-b other -o beginning -e -f '%t:%s\\n'");
    CHECK(named.exit_code == 0);
    CHECK_THAT(named.output, Catch::Contains("logs-b:b\n"));
    CHECK_THAT(named.output, Catch::Contains("other:o\n"));
    Run regex = RunCommand("{ " + ctl +
                           " consume --regex 'logs-.*' -o beginning -e -f '%t\\n' 2>/dev/null; }");
    CHECK(regex.output.size() ==
          std::string("logs-a\n").size() * 15 + std::string("logs-b\n").size());
    CHECK(RunCommand(ctl + " consume --regex 'nothing.*' -e").exit_code == 1);
    CHECK(RunCommand(ctl + " consume --regex '(' -e").exit_code == 2);
  }
  SECTION("offsets: -N, end-N, +N, N in every partition, @date; out of range is an error") {
    CHECK(RunCommand("{ " + ctl + " consume logs-a -p 0 -o -3 -e 2>/dev/null; }").output ==
          "7\n8\n9\n");
    CHECK(RunCommand("{ " + ctl + " consume logs-a -p 0 -o end-2 -e 2>/dev/null; }").output ==
          "8\n9\n");
    CHECK(RunCommand("{ " + ctl + " consume logs-a -p 1 -o +3 -e 2>/dev/null; }").output ==
          "103\n104\n");
    CHECK(RunCommand("{ " + ctl + " consume logs-a -p 1 -o -50 -e 2>/dev/null; }").output.size() ==
          20);
    Run every = RunCommand("{ " + ctl + " consume logs-a -o 4 -e -f '%p:%s\\n' 2>/dev/null; }");
    CHECK(every.output.find("0:4\n") != std::string::npos);
    CHECK(every.output.find("1:104\n") != std::string::npos);
    CHECK(every.output.find("0:3\n") == std::string::npos);
    CHECK(RunCommand(ctl + " consume logs-a -p 1 -o @2000-01-01 -c 1").output == "100\n");
    CHECK(RunCommand(ctl + " consume logs-a -p 1 -o 's@2000-01-01 00:00:00' -c 1").output ==
          "100\n");
    Run future = RunCommand(ctl + " consume logs-a -p 1 -o @2999-01-01 -e");
    CHECK(future.exit_code == 0);
    CHECK_THAT(future.output, Catch::Contains("after 0 record(s)"));

    Run beyond = RunCommand(ctl + " consume logs-a -p 1 -o 50 -e");
    CHECK(beyond.exit_code == 1);
    CHECK_THAT(beyond.output,
               Catch::Contains("OFFSET_OUT_OF_RANGE: logs-a-1: offset 50 is outside [0, 5]"));
    CHECK(RunCommand(ctl + " consume logs-a -p 1 -o 50 --offset-reset earliest -c 1").output ==
          "100\n");
    CHECK_THAT(RunCommand(ctl + " consume logs-a -p 1 -o 50 --offset-reset latest -e").output,
               Catch::Contains("after 0 record(s)"));
    CHECK(RunCommand(ctl + " consume logs-a -o 5 --offset-reset sideways").exit_code == 2);
  }
  SECTION("kcat format: lengths, escapes, a null marker; JSON keeps null and headers") {
    REQUIRE(RunCommand("printf 'k:\\n' | " + ctl + " produce other -K : -Z -H h=1").exit_code == 0);
    Run kcat = RunCommand(
        ctl + " consume other -o 1 -c 1 -f '%K|%S|%k|%s|\\x41\\r\\n' --null-marker '<null>'");
    CHECK(kcat.output == "1|-1|k|<null>|A\r\n");
    Run plain = RunCommand(ctl + " consume other -o 1 -c 1 -f '[%s]\\n'");
    CHECK(plain.output == "[]\n");
    Run json = RunCommand(ctl + " consume other -o beginning -c 2 -f json");
    CHECK_THAT(json.output, Catch::Contains("\"key\":null,\"value\":\"o\",\"headers\":[]"));
    CHECK_THAT(json.output,
               Catch::Contains("\"key\":\"k\",\"value\":null,\"headers\":[{\"key\":\"h\","
                               "\"value\":\"1\"}]"));
    CHECK(RunCommand(ctl + " consume other -f '%z'").exit_code == 2);
  }
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl topic: config sources, --internal, --if-(not-)exists, trim-prefix",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"), {"--log-retention-ms", "86400000"});
  const std::string ctl = std::string(RILL_BIN_DIR "/rillctl -b ") + broker.address();
  REQUIRE(RunCommand(ctl + " topic create t -p 2 -c segment.bytes=1048576").exit_code == 0);

  Run described = RunCommand(ctl + " topic describe t");
  CHECK(described.exit_code == 0);
  CHECK_THAT(described.output, Catch::Matches("(.|\n)*segment.bytes +1048576 +topic\n(.|\n)*"));
  CHECK_THAT(described.output, Catch::Matches("(.|\n)*retention.ms +86400000 +broker\n(.|\n)*"));
  CHECK_THAT(described.output, Catch::Matches("(.|\n)*segment.ms +604800000 +default\n(.|\n)*"));

  CHECK_THAT(RunCommand(ctl + " topic list").output, !Catch::Contains("__consumer_offsets"));
  CHECK_THAT(RunCommand(ctl + " topic list --internal").output,
             Catch::Matches("(.|\n)*__consumer_offsets +16 +1 +yes\n(.|\n)*"));

  Run exists = RunCommand(ctl + " topic create t u --if-not-exists");
  CHECK(exists.exit_code == 0);
  CHECK_THAT(exists.output, Catch::Contains("topic t already exists"));
  CHECK_THAT(exists.output, Catch::Contains("created topic u"));
  CHECK(RunCommand(ctl + " topic create t").exit_code == 1);
  CHECK(RunCommand(ctl + " topic delete u ghost").exit_code == 1);
  CHECK(RunCommand(ctl + " topic delete ghost --if-exists").exit_code == 0);

  REQUIRE(RunCommand("seq 1 10 | " + ctl + " produce t -p 1").exit_code == 0);
  Run trimmed = RunCommand(ctl + " topic trim-prefix t -p 1 -o 6");
  CHECK(trimmed.exit_code == 0);
  CHECK_THAT(trimmed.output, Catch::Matches("(.|\n)*\n1 +6 *\n"));
  CHECK(RunCommand("{ " + ctl + " consume t -p 1 -o beginning -e 2>/dev/null; }").output ==
        "7\n8\n9\n10\n");
  CHECK_THAT(RunCommand(ctl + " offsets t -p 1").output,
             Catch::Contains("1          6         10"));
  Run past = RunCommand(ctl + " topic trim-prefix t -p 1 -o 11");
  CHECK(past.exit_code == 1);
  CHECK_THAT(past.output, Catch::Contains("OFFSET_OUT_OF_RANGE"));
  CHECK(RunCommand(ctl + " topic trim-prefix t -o end").exit_code == 0);
  CHECK(RunCommand("{ " + ctl + " consume t -o beginning -e 2>/dev/null; }").output.empty());
  CHECK(RunCommand(ctl + " topic trim-prefix __consumer_offsets -o end").exit_code == 1);
  // Every "__" name is the broker's: none can be created, and no handler treats one otherwise.
  Run reserved = RunCommand(ctl + " topic create __mine");
  CHECK(reserved.exit_code == 1);
  CHECK_THAT(reserved.output, Catch::Contains("INVALID_TOPIC: cannot create '__mine'"));
  CHECK(RunCommand("echo x | " + ctl + " produce __consumer_offsets").exit_code == 1);
  CHECK(RunCommand(ctl + " topic trim-prefix t").exit_code == 2);
  CHECK(broker.Stop() == 0);
}

TEST_CASE(
    "rillctl group: reset all topics, to current, by duration, from a file, describe all, lag per "
    "topic",
    "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl = std::string(RILL_BIN_DIR "/rillctl -b ") + broker.address();
  REQUIRE(RunCommand(ctl + " topic create a b -p 1").exit_code == 0);
  REQUIRE(RunCommand("seq 1 10 | " + ctl + " produce a").exit_code == 0);
  REQUIRE(RunCommand("seq 1 4 | " + ctl + " produce b").exit_code == 0);
  REQUIRE(RunCommand(ctl + " consume a b -G g1 -e").exit_code == 0);
  REQUIRE(RunCommand(ctl + " group reset-offsets g1 -t a --shift-by -4 --execute").exit_code == 0);
  REQUIRE(RunCommand(ctl + " consume b -G g2 -e").exit_code == 0);

  Run all = RunCommand(ctl + " group describe");
  CHECK_THAT(all.output, Catch::Contains("group g1:"));
  CHECK_THAT(all.output, Catch::Contains("group g2: empty"));
  CHECK_THAT(all.output, Catch::Contains("total lag 4"));
  CHECK_THAT(all.output, Catch::Matches("(.|\n)*TOPIC +LAG\na +4\nb +0\n(.|\n)*"));
  Run json = RunCommand(ctl + " --output json group describe");
  CHECK_THAT(json.output, Catch::StartsWith("[{\"group\":\"g1\""));
  CHECK_THAT(json.output, Catch::Contains("\"topics\":[{\"topic\":\"a\",\"lag\":"));

  Run exported = RunCommand(ctl + " group reset-offsets g1 --all-topics --to-current --export");
  CHECK(exported.exit_code == 0);
  CHECK_THAT(exported.output, Catch::Equals("a,0,6\nb,0,4\n"));
  Run earliest = RunCommand(ctl + " group reset-offsets g1 --all-topics --to-earliest --execute");
  CHECK_THAT(earliest.output, Catch::Contains("offsets reset"));
  CHECK_THAT(RunCommand(ctl + " group describe g1").output, Catch::Contains("total lag 14"));

  const std::string file = tmp.Sub("offsets.csv");
  std::ofstream(file) << exported.output;
  CHECK(RunCommand(ctl + " group reset-offsets g1 --from-file " + file + " --execute").exit_code ==
        0);
  CHECK_THAT(RunCommand(ctl + " group describe g1").output, Catch::Contains("total lag 4"));
  std::ofstream(file) << "a,0,3\nnot a line\n";
  Run bad = RunCommand(ctl + " group reset-offsets g1 --from-file " + file + " --execute");
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.output, Catch::Contains(":2"));
  CHECK_THAT(RunCommand(ctl + " group describe g1").output, Catch::Contains("total lag 4"));

  CHECK(RunCommand(ctl + " group reset-offsets g1 --all-topics --by-duration 1h --execute")
            .exit_code == 0);
  CHECK_THAT(RunCommand(ctl + " group describe g1").output, Catch::Contains("total lag 14"));
  CHECK(RunCommand(ctl + " group reset-offsets g1 --topic a --by-duration 1fortnight").exit_code ==
        2);
  CHECK(RunCommand(ctl + " group reset-offsets g1 --to-earliest").exit_code == 2);
  CHECK(RunCommand(ctl + " group reset-offsets g1 --all-topics --to-earliest --to-latest")
            .exit_code == 2);
  CHECK(broker.Stop() == 0);
}

TEST_CASE("rillctl: per-command help, short flags, options where names belong, --version",
          "[integration]") {
  const std::string ctl = RILL_BIN_DIR "/rillctl";
  Run top = RunCommand(ctl + " --help");
  CHECK(top.exit_code == 0);
  CHECK_THAT(top.output, Catch::Contains("topic trim-prefix NAME"));
  Run create = RunCommand(ctl + " topic create --help");
  CHECK(create.exit_code == 0);
  CHECK_THAT(create.output, Catch::Contains("usage: rillctl topic create NAME..."));
  CHECK_THAT(create.output, Catch::Contains("-p, --partitions N"));
  CHECK_THAT(create.output, Catch::Contains("-r, --replicas N"));
  CHECK_THAT(create.output, !Catch::Contains("--exit-at-end"));
  Run consume = RunCommand(ctl + " help consume");
  CHECK_THAT(consume.output, Catch::Contains("-e, --exit-at-end"));
  CHECK_THAT(consume.output, Catch::Contains("-G, --group GROUP"));
  CHECK(RunCommand(ctl + " group --help").output != top.output);

  for (const char* misuse : {" topic create -p", " topic create -p 3", " consume -o 5",
                             " topic delete --nope", " produce -K"}) {
    Run r = RunCommand(ctl + misuse);
    INFO(misuse << ": " << r.output);
    CHECK(r.exit_code == 2);
  }
  CHECK_THAT(RunCommand(ctl + " topic create -p 3").output,
             Catch::Contains("topic create: missing NAME..."));
  CHECK_THAT(RunCommand(ctl + " consume -x t").output,
             Catch::Contains("consume: unknown option '-x'"));
  CHECK(RunCommand(ctl + " --version").output == "rillctl " RILL_VERSION_STRING "\n");
}

TEST_CASE("rillctl consume: an unreachable broker is reported on stderr while it retries",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string ctl = std::string(RILL_BIN_DIR "/rillctl -b ") + broker.address();
  REQUIRE(RunCommand(ctl + " topic create t -p 1").exit_code == 0);
  const std::string err = tmp.Sub("consume.err");
  // The consumer runs in the background, stopped by `timeout` whatever happens here.
  const std::string pid_file = tmp.Sub("consume.pid");
  REQUIRE(RunCommand("(timeout 30 " + ctl + " consume t -o beginning > /dev/null 2> " + err +
                     " & echo $! > " + pid_file + ")")
              .exit_code == 0);
  auto stderr_has = [&](const std::string& text) {
    for (int i = 0; i < 400; ++i) {
      std::ifstream in(err);
      std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (all.find(text) != std::string::npos) return true;
      usleep(50'000);
    }
    return false;
  };
  usleep(500'000);
  broker.Kill();
  CHECK(stderr_has("is unreachable"));
  CHECK(stderr_has("retrying"));
  broker.KillAndRestartOnSamePort();
  CHECK(stderr_has("reconnected"));
  RunCommand("kill $(cat " + pid_file + ")");

  Run down =
      RunCommand("timeout 3 " + std::string(RILL_BIN_DIR "/rillctl") + " -b 127.0.0.1:1 consume t");
  CHECK_THAT(down.output, Catch::Contains("cannot reach 127.0.0.1:1"));
  CHECK_THAT(down.output, Catch::Contains("retrying"));
}

TEST_CASE("rill-bench: consume stops at the end, summaries fit their mode, Ctrl-C still summarizes",
          "[integration]") {
  testing::TempDir tmp;
  testing::BrokerProcess broker(tmp.Sub("data"));
  const std::string bench =
      std::string(RILL_BIN_DIR "/rill-bench ") + "%s --brokers " + broker.address();
  auto mode = [&](const std::string& name) {
    std::string out = bench;
    out.replace(out.find("%s"), 2, name);
    return out;
  };
  Run produced = RunCommand(mode("produce") +
                            " --topic b --partitions 2 --records 300 "
                            "--record-bytes 100");
  CHECK(produced.exit_code == 0);
  CHECK_THAT(produced.output, Catch::Contains("300 records of 100 B, 2 partitions, acks=all, 1 "
                                              "producer(s)\n"));
  CHECK_THAT(produced.output, Catch::Contains("ack latency"));
  CHECK_THAT(produced.output, !Catch::Contains("consume"));

  // Asked for more than there is, consume reads what the topic holds and says so.
  Run consumed = RunCommand(mode("consume") + " --topic b --records 1000000 --record-bytes 100");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains("read 300 of the 300 records the topic held"));
  CHECK_THAT(consumed.output, !Catch::Contains("acks="));
  CHECK_THAT(consumed.output, !Catch::Contains("sent"));
  Run json = RunCommand(mode("consume") + " --topic b --record-bytes 100 --json 2>/dev/null");
  CHECK_THAT(json.output, Catch::Contains("\"available_records\":300"));
  CHECK_THAT(json.output, !Catch::Contains("\"acks\""));

  Run interrupted = RunCommand("timeout --preserve-status -s INT 3 " + mode("produce") +
                               " --topic c --rate 50 --records 100000 --record-bytes 100");
  CHECK(interrupted.exit_code == 0);
  CHECK_THAT(interrupted.output, Catch::Contains("s: sent "));
  CHECK_THAT(interrupted.output, Catch::Contains("producer(s) (interrupted)"));
  CHECK_THAT(interrupted.output, Catch::Contains("records/s"));

  Run storage =
      RunCommand("timeout --preserve-status -s INT 3 " RILL_BIN_DIR "/rill-bench storage --dir " +
                 tmp.path() + " --total-mb 20 --rounds 100000");
  CHECK(storage.exit_code == 0);
  CHECK_THAT(storage.output, Catch::Contains("round 1/100000: write baseline"));
  CHECK_THAT(storage.output, Catch::Contains("(interrupted)"));
  CHECK_THAT(storage.output, Catch::Contains("durable append"));

  Run rebalance = RunCommand("timeout --preserve-status -s INT 3 " + mode("rebalance") +
                             " --group rb --topic r --partitions 2 --rate 100");
  CHECK(rebalance.exit_code == 0);
  CHECK_THAT(rebalance.output, Catch::Contains("rill-bench rebalance: group rb on r"));
  CHECK_THAT(rebalance.output, Catch::Contains("(interrupted)"));
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
