// The operator tools as a user runs them: real processes, exit codes and output.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage/log.h"
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

void WriteLog(const std::string& dir) {
  storage::Flusher flusher;
  storage::LogConfig config;
  config.index_interval_bytes = 256;
  auto log = storage::Log::Open(dir, config,
                                storage::LogOptions{storage::FileSystem::Default(), &flusher, {}});
  REQUIRE(log.ok());
  for (int i = 0; i < 20; ++i) {
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

TEST_CASE("rill-storage-demo: appends stdin durably and keeps it across runs", "[integration]") {
  testing::TempDir tmp;
  const std::string demo = RILL_BIN_DIR "/rill-storage-demo --data-dir " + tmp.path();
  Run first = RunCommand("printf 'alpha\\nbeta\\n' | " + demo);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.output, Catch::Contains("appended 2 records at offsets 0..1"));
  Run second = RunCommand("printf 'gamma\\n' | " + demo);
  CHECK(second.exit_code == 0);
  CHECK_THAT(second.output, Catch::Contains("after a clean shutdown"));
  CHECK_THAT(second.output, Catch::Contains("1  beta"));
  CHECK_THAT(second.output, Catch::Contains("2  gamma"));
  CHECK(RunCommand(demo + " --log 'bad/name' < /dev/null").exit_code == 1);
  CHECK(RunCommand(demo + " --tail -3 < /dev/null").exit_code == 2);
}
