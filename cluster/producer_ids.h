// ProducerIdAllocator: hands out idempotent producers' ids on this broker (InitProducerId).
// Ids come in blocks the controller commits to the metadata log for this broker, so no two
// brokers ever hand out the same id, also across restarts and controller failovers. A new
// block is asked for when the current one runs out; requests meanwhile wait, up to a bound.
//
// Thread-safety: thread-safe; never blocks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "rpc/controller_api.h"

namespace rill::cluster {

class ProducerIdAllocator {
 public:
  using Done = std::function<void(absl::StatusOr<int64_t>)>;
  // Asks the controller for a block; calls back once, from any thread.
  using FetchBlock = std::function<void(rpc::Reply<rpc::ProducerIdRange>)>;

  ProducerIdAllocator(FetchBlock fetch, size_t waiters_max)
      : fetch_(std::move(fetch)), waiters_max_(waiters_max) {}

  // `done` gets a producer id never handed out before, or the error that kept the block from
  // coming (it may run on this thread).
  void Next(Done done);

  // Ids handed out so far (a metric).
  int64_t handed_out() const;

 private:
  void OnBlock(absl::StatusOr<rpc::ProducerIdRange> block);

  const FetchBlock fetch_;
  const size_t waiters_max_;
  mutable absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t end_ ABSL_GUARDED_BY(mu_) = 0;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Done> waiters_ ABSL_GUARDED_BY(mu_);
  int64_t handed_out_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rill::cluster
