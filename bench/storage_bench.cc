// rill-bench storage: durable append and sequential read throughput of the storage engine,
// each beside a baseline measured in the same run on the same directory:
//   write baseline: dd-style sequential 1 MiB writes then one fdatasync (dd conv=fdatasync);
//   read baseline:  plain sequential 1 MiB read() of the log's own segment files, so both
//                   sides read the same bytes laid out the same way on disk.
// Reads are measured cold (pages dropped with posix_fadvise first) and hot (from page cache),
// after one warm-up pass (on virtual disks the first read of freshly written data can be much
// slower than any later one), best of three runs each.
#include "bench/storage_bench.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <semaphore>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/fmt_absl.h"
#include "format/record_batch.h"
#include "storage/log.h"

namespace rill::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlockBytes = size_t{1} << 20;
constexpr int kMaxInflight = 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double MBps(uint64_t bytes, double seconds) { return static_cast<double>(bytes) / 1e6 / seconds; }

struct Figures {
  double write_baseline_mbps = 0;
  double append_mbps = 0;
  double append_records_per_s = 0;
  double append_p50_ms = 0;
  double append_p99_ms = 0;
  double read_baseline_cold_mbps = 0;
  double read_cold_mbps = 0;
  double read_baseline_hot_mbps = 0;
  double read_hot_mbps = 0;
  uint64_t syncs = 0;
  uint64_t appends = 0;
  int rounds_done = 0;
  bool reads_done = false;
  bool interrupted = false;
};

bool Interrupted(const StorageBenchOptions& o) {
  return o.interrupted != nullptr && o.interrupted->load();
}

void DropCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

absl::StatusOr<double> WriteBaseline(const std::string& path, uint64_t total_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(fmt::format("open {}: {}", path, strerror(errno)));
  std::string block(kBlockBytes, 'x');
  auto start = Clock::now();
  for (uint64_t written = 0; written < total_bytes; written += kBlockBytes) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      ::close(fd);
      return absl::InternalError(fmt::format("write {}: {}", path, strerror(errno)));
    }
  }
  if (::fdatasync(fd) != 0) {
    ::close(fd);
    return absl::InternalError(fmt::format("fdatasync {}: {}", path, strerror(errno)));
  }
  double seconds = Seconds(Clock::now() - start);
  ::close(fd);
  return MBps(total_bytes, seconds);
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<double> ReadBaseline(const std::vector<std::string>& files, bool cold) {
  if (cold) {
    for (const auto& file : files) DropCache(file);
  }
  std::vector<char> buffer(kBlockBytes);
  uint64_t total = 0;
  auto start = Clock::now();
  for (const auto& path : files) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::InternalError(fmt::format("open {}: {}", path, strerror(errno)));
    while (true) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0) {
        ::close(fd);
        return absl::InternalError(fmt::format("read {}: {}", path, strerror(errno)));
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
    }
    ::close(fd);
  }
  return MBps(total, Seconds(Clock::now() - start));
}

std::vector<std::string> MakeBatches(const StorageBenchOptions& o) {
  // A pool of distinct batches, reused round-robin: building one per append would measure the
  // encoder rather than storage. Values are random so nothing downstream can compress them.
  std::vector<std::string> pool;
  uint64_t x = 88172645463325252ull;
  for (int b = 0; b < 16; ++b) {
    format::BatchBuilder builder;
    for (int r = 0; r < o.batch_records; ++r) {
      std::string value(o.record_bytes, '\0');
      for (auto& c : value) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
      }
      builder.Append(1'700'000'000'000 + r, fmt::format("key-{}", r), value);
    }
    pool.push_back(builder.Build());
  }
  return pool;
}

absl::Status AppendPhase(storage::Log* log, const StorageBenchOptions& o, Figures* f,
                         uint64_t* bytes_appended) {
  auto pool = MakeBatches(o);
  const uint64_t batch_bytes = pool.front().size();
  const uint64_t batches = std::max<uint64_t>(1, o.total_bytes / batch_bytes);
  std::counting_semaphore<kMaxInflight> window(o.inflight);
  absl::Mutex mu;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(batches);
  absl::Status failure;

  auto start = Clock::now();
  for (uint64_t i = 0; i < batches; ++i) {
    window.acquire();
    auto sent = Clock::now();
    auto r = log->Append(pool[i % pool.size()], {}, [&, sent](absl::Status s) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
      {
        absl::MutexLock lock(&mu);
        latencies_ms.push_back(ms);
        if (!s.ok() && failure.ok()) failure = s;
      }
      window.release();
    });
    if (!r.ok()) return r.status();
  }
  for (int i = 0; i < o.inflight; ++i) window.acquire();
  double seconds = Seconds(Clock::now() - start);
  absl::MutexLock lock(&mu);
  if (!failure.ok()) return failure;

  *bytes_appended = batches * batch_bytes;
  f->appends = batches;
  f->append_mbps = MBps(*bytes_appended, seconds);
  f->append_records_per_s = static_cast<double>(batches) * o.batch_records / seconds;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  f->append_p50_ms = latencies_ms[latencies_ms.size() / 2];
  f->append_p99_ms =
      latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  return absl::OkStatus();
}

absl::StatusOr<double> ReadPhase(const storage::Log& log, const std::string& dir, bool cold) {
  if (cold) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".log") DropCache(entry.path().string());
    }
  }
  uint64_t total = 0;
  int64_t next = log.start_offset().value();
  const int64_t end = log.next_offset().value();
  std::string buffer;
  auto start = Clock::now();
  while (next < end) {
    auto r = log.ReadInto(Offset(next), kBlockBytes, std::nullopt, &buffer);
    if (!r.ok()) return r.status();
    total += r->bytes;
    next = r->next_offset.value();
  }
  return MBps(total, Seconds(Clock::now() - start));
}

void PrintHuman(const StorageBenchOptions& o, const Figures& f) {
  auto ratio = [](double a, double b) { return b > 0 ? 100.0 * a / b : 0.0; };
  fmt::print(
      "rill-bench storage: {} B records, {} per batch, {} appends in flight, {} MB, best of {} "
      "rounds{}\n",
      o.record_bytes, o.batch_records, o.inflight, o.total_bytes / 1000000, f.rounds_done,
      f.interrupted ? " (interrupted)" : "");
  fmt::print("  write baseline (dd bs=1M conv=fdatasync) {:10.1f} MB/s\n", f.write_baseline_mbps);
  fmt::print(
      "  durable append                          {:10.1f} MB/s  {:.0f} records/s  "
      "{:.1f}% of baseline\n",
      f.append_mbps, f.append_records_per_s, ratio(f.append_mbps, f.write_baseline_mbps));
  fmt::print("    append latency p50 {:.2f} ms, p99 {:.2f} ms; {} appends in {} syncs\n",
             f.append_p50_ms, f.append_p99_ms, f.appends, f.syncs);
  if (!f.reads_done) {
    fmt::print("  reads not measured (interrupted)\n");
    return;
  }
  fmt::print("  read baseline, cold (read 1M of segments) {:8.1f} MB/s\n",
             f.read_baseline_cold_mbps);
  fmt::print("  log read, cold                          {:10.1f} MB/s  {:.1f}% of baseline\n",
             f.read_cold_mbps, ratio(f.read_cold_mbps, f.read_baseline_cold_mbps));
  fmt::print("  read baseline, hot (page cache)         {:10.1f} MB/s\n", f.read_baseline_hot_mbps);
  fmt::print("  log read, hot                           {:10.1f} MB/s  {:.1f}% of baseline\n",
             f.read_hot_mbps, ratio(f.read_hot_mbps, f.read_baseline_hot_mbps));
}

void PrintJson(const StorageBenchOptions& o, const Figures& f) {
  fmt::print(
      "{{\"bench\":\"storage\",\"rounds_done\":{},\"reads_done\":{},\"interrupted\":{},"
      "\"record_bytes\":{},\"batch_records\":{},\"inflight\":{},"
      "\"total_bytes\":{},\"write_baseline_mbps\":{:.1f},\"append_mbps\":{:.1f},"
      "\"append_records_per_s\":{:.0f},\"append_vs_baseline\":{:.3f},\"append_p50_ms\":{:.3f},"
      "\"append_p99_ms\":{:.3f},\"appends\":{},\"syncs\":{},\"read_baseline_cold_mbps\":{:.1f},"
      "\"read_cold_mbps\":{:.1f},\"read_cold_vs_baseline\":{:.3f},"
      "\"read_baseline_hot_mbps\":{:.1f},\"read_hot_mbps\":{:.1f},"
      "\"read_hot_vs_baseline\":{:.3f}}}\n",
      f.rounds_done, f.reads_done, f.interrupted, o.record_bytes, o.batch_records, o.inflight,
      o.total_bytes, f.write_baseline_mbps, f.append_mbps, f.append_records_per_s,
      f.append_mbps / f.write_baseline_mbps, f.append_p50_ms, f.append_p99_ms, f.appends, f.syncs,
      f.read_baseline_cold_mbps, f.read_cold_mbps, f.read_cold_mbps / f.read_baseline_cold_mbps,
      f.read_baseline_hot_mbps, f.read_hot_mbps, f.read_hot_mbps / f.read_baseline_hot_mbps);
}

}  // namespace

absl::StatusOr<double> MeasureDirectAppendMbps(const StorageBenchOptions& o) {
  std::error_code ec;
  const std::string dir = o.dir + "/rill-bench-direct-append";
  std::filesystem::remove_all(dir, ec);
  storage::Flusher flusher;
  storage::LogConfig config;
  config.max_batch_bytes = std::max<size_t>(
      config.max_batch_bytes, static_cast<size_t>(o.batch_records) * (o.record_bytes + 64) + 1024);
  auto log = storage::Log::Open(
      dir, config, storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
  if (!log.ok()) return log.status();
  Figures f;
  uint64_t appended = 0;
  absl::Status s = AppendPhase(log->get(), o, &f, &appended);
  (void)(*log)->Close();
  log->reset();
  std::filesystem::remove_all(dir, ec);
  if (!s.ok()) return s;
  return f.append_mbps;
}

absl::Status RunStorageBench(const StorageBenchOptions& o) {
  if (o.record_bytes == 0 || o.batch_records <= 0 || o.inflight <= 0 || o.inflight > kMaxInflight ||
      o.total_bytes < kBlockBytes || o.rounds < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "need --record-bytes > 0, --batch-records > 0, --inflight in [1, {}], --total-mb >= 1, "
        "--rounds >= 1",
        kMaxInflight));
  }
  std::error_code ec;
  const std::string root = o.dir + "/rill-bench-storage";
  std::filesystem::remove_all(root, ec);
  std::filesystem::create_directories(root, ec);
  if (ec) return absl::InternalError(fmt::format("create {}: {}", root, ec.message()));

  // Baseline and appends alternate for a few rounds and the best of each counts: on a shared
  // virtual disk one run of either can be twice as fast as the next.
  Figures f;
  storage::Flusher flusher;
  storage::LogConfig config;
  config.max_batch_bytes = std::max<size_t>(
      config.max_batch_bytes, static_cast<size_t>(o.batch_records) * (o.record_bytes + 64) + 1024);
  std::unique_ptr<storage::Log> log;
  std::string log_dir;
  for (int round = 0; round < o.rounds; ++round) {
    if (round > 0 && Interrupted(o)) break;
    const std::string baseline_file = root + "/dd-baseline";
    auto write_baseline = WriteBaseline(baseline_file, o.total_bytes);
    if (!write_baseline.ok()) return write_baseline.status();
    std::filesystem::remove(baseline_file, ec);
    f.write_baseline_mbps = std::max(f.write_baseline_mbps, *write_baseline);

    if (log) {
      (void)log->Close();
      log.reset();
      std::filesystem::remove_all(log_dir, ec);
    }
    log_dir = fmt::format("{}/bench-{}", root, round);
    auto opened = storage::Log::Open(
        log_dir, config, storage::LogOptions{storage::FileSystem::Default(), &flusher, {}, {}});
    if (!opened.ok()) return opened.status();
    log = std::move(*opened);
    Figures round_figures;
    uint64_t appended = 0;
    uint64_t syncs_before = flusher.flush_count();
    if (auto s = AppendPhase(log.get(), o, &round_figures, &appended); !s.ok()) return s;
    round_figures.syncs = flusher.flush_count() - syncs_before;
    if (round_figures.append_mbps > f.append_mbps) {
      f.append_mbps = round_figures.append_mbps;
      f.append_records_per_s = round_figures.append_records_per_s;
      f.append_p50_ms = round_figures.append_p50_ms;
      f.append_p99_ms = round_figures.append_p99_ms;
      f.appends = round_figures.appends;
      f.syncs = round_figures.syncs;
    }
    f.rounds_done = round + 1;
    fmt::print(stderr, "round {}/{}: write baseline {:.1f} MB/s, durable append {:.1f} MB/s\n",
               round + 1, o.rounds, *write_baseline, round_figures.append_mbps);
  }

  if (!Interrupted(o)) {
    const auto segment_files = SegmentFiles(log_dir);
    if (auto warm = ReadBaseline(segment_files, false); !warm.ok()) return warm.status();
    for (bool cold : {true, false}) {
      for (int run = 0; run < 3 && !Interrupted(o); ++run) {
        auto baseline = ReadBaseline(segment_files, cold);
        if (!baseline.ok()) return baseline.status();
        auto ours = ReadPhase(*log, log_dir, cold);
        if (!ours.ok()) return ours.status();
        double& best_baseline = cold ? f.read_baseline_cold_mbps : f.read_baseline_hot_mbps;
        double& best_ours = cold ? f.read_cold_mbps : f.read_hot_mbps;
        best_baseline = std::max(best_baseline, *baseline);
        best_ours = std::max(best_ours, *ours);
      }
      fmt::print(stderr, "reads, {}: baseline {:.1f} MB/s, log {:.1f} MB/s\n",
                 cold ? "cold" : "hot", cold ? f.read_baseline_cold_mbps : f.read_baseline_hot_mbps,
                 cold ? f.read_cold_mbps : f.read_hot_mbps);
    }
    f.reads_done = !Interrupted(o);
  }
  f.interrupted = Interrupted(o);
  (void)log->Close();
  log.reset();
  std::filesystem::remove_all(root, ec);

  if (o.json) {
    PrintJson(o, f);
  } else {
    PrintHuman(o, f);
  }
  return absl::OkStatus();
}

}  // namespace rill::bench
