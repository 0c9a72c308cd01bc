// Test helper for crash_test.cc: appends batches to the log in DIR as fast as it can, with
// several appends in flight, and writes "ack <end offset>" to stdout (unbuffered) each time an
// append becomes durable. It runs until it is killed.
//
// Usage: rill-crash-writer DIR SEED
#include <unistd.h>

#include <cstdio>
#include <random>
#include <semaphore>
#include <string>

#include "fmt/format.h"
#include "storage/log.h"
#include "tests/support/test_util.h"

using namespace rill;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: rill-crash-writer DIR SEED\n");
    return 2;
  }
  storage::Flusher flusher;
  storage::LogConfig config;
  config.segment_bytes = 64 * 1024;
  config.index_interval_bytes = 1024;
  auto log = storage::Log::Open(
      argv[1], config, storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
  if (!log.ok()) {
    std::fprintf(stderr, "open failed: %s\n", log.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(std::stoull(argv[2]));
  std::counting_semaphore<16> window(16);
  int64_t next = (*log)->next_offset().value();
  while (true) {
    window.acquire();
    int count = 1 + static_cast<int>(rng() % 8);
    size_t value_bytes = 16 + rng() % 300;
    auto batch = testing::MakeBatch(next, count, value_bytes, testing::NowMs());
    auto result =
        (*log)->Append(std::move(batch), {}, [&window, end = next + count](absl::Status s) {
          if (s.ok()) {
            std::string line = fmt::format("ack {}\n", end);
            if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
          }
          window.release();
        });
    if (!result.ok() || result->base_offset.value() != next) {
      std::fprintf(stderr, "append failed: %s\n", result.status().ToString().c_str());
      return 1;
    }
    next += count;
  }
}
