// Crash safety with real processes: a writer process appends and reports each durable offset;
// the test SIGKILLs it at random moments, reopens the log, and checks that every acknowledged
// record is present, intact and in order, and that the log takes appends again.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "storage/log.h"
#include "tests/support/test_util.h"

extern char** environ;

using namespace rill;
using rill::testing::DecodeBatches;

namespace {

struct Writer {
  pid_t pid = -1;
  int out = -1;
};

Writer Spawn(const std::string& dir, uint64_t seed) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string seed_arg = std::to_string(seed);
  std::string binary = RILL_CRASH_WRITER;
  char* argv[] = {binary.data(), const_cast<char*>(dir.c_str()), seed_arg.data(), nullptr};
  Writer w;
  REQUIRE(posix_spawn(&w.pid, binary.c_str(), &actions, nullptr, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  w.out = fds[0];
  return w;
}

// Reads "ack N" lines; returns the highest N seen. Stops after `stop_after` acks (then the
// caller kills the writer) or at end of file.
int64_t ReadAcks(int fd, int stop_after, std::string* pending, int* seen) {
  int64_t max_ack = -1;
  char buf[4096];
  while (stop_after < 0 || *seen < stop_after) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    pending->append(buf, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending->find('\n')) != std::string::npos) {
      std::string line = pending->substr(0, newline);
      pending->erase(0, newline + 1);
      REQUIRE(line.rfind("ack ", 0) == 0);
      max_ack = std::max<int64_t>(max_ack, std::stoll(line.substr(4)));
      ++*seen;
    }
  }
  return max_ack;
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments never loses an acknowledged record", "[integration]") {
  // RILL_CRASH_SEEDS=N runs more seeds than CI does; RILL_CRASH_FIRST_SEED replays one.
  const char* seeds_env = std::getenv("RILL_CRASH_SEEDS");
  const char* first_env = std::getenv("RILL_CRASH_FIRST_SEED");
  const uint64_t first_seed = first_env ? std::stoull(first_env) : 1000;
  const int seeds = seeds_env ? std::stoi(seeds_env) : 4;
  const int rounds = 25;
  for (uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    testing::TempDir tmp;
    const std::string dir = tmp.Sub("crash-0");
    std::mt19937_64 rng(seed);
    int64_t acked_end = 0;
    for (int round = 0; round < rounds; ++round) {
      INFO("seed " << seed << " round " << round << " (replay: RILL_CRASH_FIRST_SEED=" << seed
                   << " RILL_CRASH_SEEDS=1)");
      Writer writer = Spawn(dir, rng());
      std::string pending;
      int seen = 0;
      int stop_after = static_cast<int>(rng() % 300);
      int64_t max_ack = ReadAcks(writer.out, stop_after, &pending, &seen);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      kill(writer.pid, SIGKILL);
      // Acks already in the pipe were sent before the kill: they count too.
      max_ack = std::max(max_ack, ReadAcks(writer.out, -1, &pending, &seen));
      close(writer.out);
      int status = 0;
      REQUIRE(waitpid(writer.pid, &status, 0) == writer.pid);
      REQUIRE(WIFSIGNALED(status));
      acked_end = std::max(acked_end, max_ack);

      storage::Flusher flusher;
      auto log = storage::Log::Open(
          dir, {}, storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
      INFO(log.status().ToString());
      REQUIRE(log.ok());
      REQUIRE((*log)->next_offset().value() >= acked_end);
      int64_t next = 0;
      while (next < (*log)->next_offset().value()) {
        auto r = (*log)->Read(Offset(next), 1 << 20);
        REQUIRE(r.ok());
        for (const auto& rec : DecodeBatches(r->batches)) {
          REQUIRE(rec.offset == next);
          REQUIRE(rec.key == "k" + std::to_string(rec.offset));
          REQUIRE(rec.value == testing::ValueForOffset(rec.offset, rec.value.size()));
          ++next;
        }
      }
      REQUIRE(next == (*log)->next_offset().value());
      REQUIRE((*log)->Verify().ok());
      const int64_t end = next;
      REQUIRE((*log)->AppendAndWait(testing::MakeBatch(end, 1, 10, testing::NowMs())).ok());
      acked_end = end + 1;
    }
  }
}
