#include "cluster/producer_ids.h"

#include "api/error.h"
#include "base/fmt_absl.h"

namespace rill::cluster {

void ProducerIdAllocator::Next(Done done) {
  absl::StatusOr<int64_t> now = absl::UnavailableError("no id yet");
  bool fetch = false;
  {
    absl::MutexLock lock(&mu_);
    if (next_ < end_) {
      now = next_++;
      ++handed_out_;
    } else if (waiters_.size() >= waiters_max_) {
      now = api::ApiError(v1::REQUEST_TIMED_OUT,
                          fmt::format("{} producers are already waiting for an id; retry",
                                      waiters_max_));
    } else {
      waiters_.push_back(std::move(done));
      fetch = !fetching_;
      fetching_ = true;
    }
  }
  if (fetch) {
    fetch_([this](absl::StatusOr<rpc::ProducerIdRange> block) { OnBlock(block); });
  } else if (done) {
    done(now);
  }
}

void ProducerIdAllocator::OnBlock(absl::StatusOr<rpc::ProducerIdRange> block) {
  std::deque<Done> served;
  std::deque<Done> failed;
  std::vector<int64_t> ids;
  bool fetch_again = false;
  {
    absl::MutexLock lock(&mu_);
    fetching_ = false;
    if (!block.ok()) {
      failed.swap(waiters_);
    } else {
      if (block->count > 0 && block->first >= 0) {
        next_ = block->first;
        end_ = block->first + block->count;
      }
      while (!waiters_.empty() && next_ < end_) {
        ids.push_back(next_++);
        ++handed_out_;
        served.push_back(std::move(waiters_.front()));
        waiters_.pop_front();
      }
      fetch_again = !waiters_.empty();
      fetching_ = fetch_again;
    }
  }
  for (auto& done : failed) done(block.status());
  for (size_t i = 0; i < served.size(); ++i) served[i](ids[i]);
  if (fetch_again) fetch_([this](absl::StatusOr<rpc::ProducerIdRange> b) { OnBlock(b); });
}

int64_t ProducerIdAllocator::handed_out() const {
  absl::MutexLock lock(&mu_);
  return handed_out_;
}

}  // namespace rill::cluster
