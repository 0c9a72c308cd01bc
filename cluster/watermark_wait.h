// WatermarkWait: how a long-polling fetch waits for data. It waits until the high watermark of
// any of its partitions differs from the one the fetch last read, until a deadline, or until
// the broker stops, and then calls `wake` exactly once, on the io_context: wake(false) for new
// data, wake(true) once the deadline passed or the broker stops (read a last time and answer).
//
// Thread-safety: Start from any thread; the partitions' waiters and the timer may fire on any.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "cluster/partition.h"

namespace rill::cluster {

class WatermarkWait : public std::enable_shared_from_this<WatermarkWait> {
 public:
  // `seen[i]` is the high watermark the fetch read of `partitions[i]`; partitions the fetch
  // could not resolve are not waited on. `stopping` outlives the wait.
  static void Start(asio::io_context& io,
                    const std::vector<absl::StatusOr<std::shared_ptr<Partition>>>& partitions,
                    const std::vector<int64_t>& seen,
                    std::chrono::steady_clock::time_point deadline,
                    const std::atomic<bool>& stopping, std::function<void(bool final)> wake);

  WatermarkWait(asio::io_context& io, const std::atomic<bool>& stopping,
                std::function<void(bool final)> wake)
      : io_(io), stopping_(stopping), wake_(std::move(wake)), timer_(io) {}

 private:
  void Arm(const std::vector<std::shared_ptr<Partition>>& partitions,
           const std::vector<int64_t>& seen, std::chrono::steady_clock::time_point deadline);
  void Wake(bool final);

  asio::io_context& io_;
  const std::atomic<bool>& stopping_;
  const std::function<void(bool)> wake_;
  asio::steady_timer timer_;
  absl::Mutex mu_;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<std::shared_ptr<Partition>, uint64_t>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::cluster
