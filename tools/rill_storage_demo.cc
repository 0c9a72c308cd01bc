// rill-storage-demo: the storage engine on its own, until the broker exists.
//
//   rill-storage-demo [--data-dir DIR] [--log NAME] [--tail N]
//
// Opens (recovering if needed) the partition log DIR/NAME (default ./rill-data/demo-0), appends
// every line of standard input as one record (key = line number in this run) with durable
// acknowledgement, then prints the log's state and its last N records. Run it twice to see the
// records survive; kill it mid-way to see recovery.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "base/fmt_absl.h"
#include "base/logging.h"
#include "format/record_batch.h"
#include "storage/log_manager.h"

namespace {

using namespace rill;

constexpr char kUsage[] =
    "usage: rill-storage-demo [--data-dir DIR] [--log NAME] [--tail N]\n"
    "  Appends each line of standard input to the log DIR/NAME as a durable record, then\n"
    "  prints the log's offsets and its last N records (default 10).\n"
    "  --data-dir DIR  data directory (default ./rill-data)\n"
    "  --log NAME      log name, [A-Za-z0-9._-] (default demo-0)\n"
    "  --tail N        records to print at the end (default 10)\n";

constexpr size_t kBatchRecordsMax = 500;
constexpr size_t kBatchBytesMax = 256 * 1024;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

absl::Status AppendBatch(storage::Log* log, format::BatchBuilder* builder, bool interactive) {
  if (builder->empty()) return absl::OkStatus();
  int32_t count = builder->record_count();
  auto result = log->AppendAndWait(builder->Build());
  if (!result.ok()) return result.status();
  if (interactive) {
    fmt::print("durable at offset {}\n", result->base_offset.value());
  } else {
    fmt::print("appended {} records at offsets {}..{}\n", count, result->base_offset.value(),
               result->last_offset.value());
  }
  return absl::OkStatus();
}

absl::Status PrintTail(const storage::Log& log, int64_t tail) {
  auto stats = log.stats();
  fmt::print("log {}: offsets [{}, {}), {} bytes in {} segment(s)\n", log.dir(),
             stats.start_offset.value(), stats.next_offset.value(), stats.size_bytes,
             stats.segment_count);
  int64_t from = std::max(stats.start_offset.value(), stats.next_offset.value() - tail);
  while (from < stats.next_offset.value()) {
    auto read = log.Read(Offset(from), 1 << 20);
    if (!read.ok()) return read.status();
    std::string_view bytes = read->batches;
    while (!bytes.empty()) {
      auto header = format::ParseBatchHeader(bytes, storage::kMaxStoredBatchBytes);
      if (!header.ok()) return header.status();
      format::RecordReader reader(bytes.substr(0, header->size_bytes()), *header);
      format::RecordView r;
      while (reader.Next(&r)) {
        int64_t offset = header->base_offset + r.offset_delta;
        if (offset < from) continue;
        fmt::print("  {:>8}  {}\n", offset, r.value.value_or("(null)"));
      }
      bytes.remove_prefix(header->size_bytes());
    }
    from = read->next_offset.value();
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "rill-data";
  std::string name = "demo-0";
  int64_t tail = 10;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "rill-storage-demo: {} needs a value\n{}", flag, kUsage);
      return 2;
    }
    std::string value = argv[++i];
    if (flag == "--data-dir") {
      data_dir = value;
    } else if (flag == "--log") {
      name = value;
    } else if (flag == "--tail") {
      try {
        tail = std::stoll(value);
      } catch (const std::exception&) {
        tail = -1;
      }
      if (tail < 0) {
        fmt::print(stderr, "rill-storage-demo: --tail takes a non-negative number\n");
        return 2;
      }
    } else {
      fmt::print(stderr, "rill-storage-demo: unknown option {}\n{}", flag, kUsage);
      return 2;
    }
  }

  storage::LogManagerOptions options;
  options.data_dir = data_dir;
  auto manager = storage::LogManager::Open(options);
  if (!manager.ok()) {
    fmt::print(stderr, "rill-storage-demo: {}\n", manager.status().message());
    return 1;
  }
  auto log = (*manager)->GetOrCreate(name, storage::LogConfig{});
  if (!log.ok()) {
    fmt::print(stderr, "rill-storage-demo: {}\n", log.status().message());
    return 1;
  }
  const auto& recovery = (*log)->recovery();
  const char* state = recovery.clean_shutdown              ? "after a clean shutdown"
                      : (*log)->next_offset().value() == 0 ? "new or empty"
                                                           : "recovered after a crash";
  fmt::print("opened {} ({}, {} segment(s), next offset {})\n", (*log)->dir(), state,
             recovery.segments, (*log)->next_offset().value());

  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) fmt::print("type lines to append; Ctrl-D ends\n");
  format::BatchBuilder builder;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(std::cin, line)) {
    builder.Append(NowMs(), std::to_string(line_number++), line);
    if (interactive || builder.record_count() >= static_cast<int32_t>(kBatchRecordsMax) ||
        builder.size_bytes() >= kBatchBytesMax) {
      if (auto s = AppendBatch(log->get(), &builder, interactive); !s.ok()) {
        fmt::print(stderr, "rill-storage-demo: append failed: {}\n", s.message());
        return 1;
      }
    }
  }
  if (auto s = AppendBatch(log->get(), &builder, interactive); !s.ok()) {
    fmt::print(stderr, "rill-storage-demo: append failed: {}\n", s.message());
    return 1;
  }
  if (auto s = PrintTail(**log, tail); !s.ok()) {
    fmt::print(stderr, "rill-storage-demo: read failed: {}\n", s.message());
    return 1;
  }
  if (auto s = (*manager)->Close(); !s.ok()) {
    fmt::print(stderr, "rill-storage-demo: close failed: {}\n", s.message());
    return 1;
  }
  return 0;
}
