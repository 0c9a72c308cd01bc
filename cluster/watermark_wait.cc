#include "cluster/watermark_wait.h"

namespace rill::cluster {

void WatermarkWait::Start(asio::io_context& io,
                          const std::vector<absl::StatusOr<std::shared_ptr<Partition>>>& partitions,
                          const std::vector<int64_t>& seen,
                          std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>& stopping, std::function<void(bool final)> wake) {
  std::vector<std::shared_ptr<Partition>> resolved;
  std::vector<int64_t> resolved_seen;
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (!partitions[i].ok()) continue;
    resolved.push_back(*partitions[i]);
    resolved_seen.push_back(seen[i]);
  }
  auto wait = std::make_shared<WatermarkWait>(io, stopping, std::move(wake));
  wait->Arm(resolved, resolved_seen, deadline);
}

void WatermarkWait::Arm(const std::vector<std::shared_ptr<Partition>>& partitions,
                        const std::vector<int64_t>& seen,
                        std::chrono::steady_clock::time_point deadline) {
  {
    absl::MutexLock lock(&mu_);
    waiting_ = true;
    for (const auto& partition : partitions) {
      auto self = shared_from_this();
      waiters_.emplace_back(partition, partition->AddWaiter([self] { self->Wake(false); }));
    }
  }
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->Wake(true);
  });
  // Data that arrived between the fetch's read and the registration would otherwise wake
  // nobody.
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (partitions[i]->high_watermark().value() != seen[i]) {
      Wake(false);
      return;
    }
  }
  if (stopping_.load()) Wake(true);
}

void WatermarkWait::Wake(bool final) {
  std::vector<std::pair<std::shared_ptr<Partition>, uint64_t>> waiters;
  {
    absl::MutexLock lock(&mu_);
    if (!waiting_) return;
    waiting_ = false;
    waiters.swap(waiters_);
  }
  for (auto& [partition, id] : waiters) partition->RemoveWaiter(id);
  if (!final) timer_.cancel();
  asio::post(io_, [self = shared_from_this(), final] { self->wake_(final); });
}

}  // namespace rill::cluster
