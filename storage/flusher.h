// Group commit: one thread that makes logs durable on behalf of every appender.
//
// An appender writes its batch into the page cache and asks the flusher to flush the log; the
// flusher calls Flush() on it, which fdatasyncs once for everything written so far and
// completes every append that sync covered. While one sync runs, new appends pile up and are
// covered together by the next one, so the number of syncs adapts to the load.
//
// Logs with a relaxed policy (flush.ms > 0) are flushed at their interval instead.
//
// Thread-safety: all methods are thread-safe. Flush() is never called concurrently for one
// target, and never after Unregister() returned.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rill::storage {

class Flushable {
 public:
  virtual ~Flushable() = default;
  virtual void Flush() = 0;
};

class Flusher {
 public:
  Flusher();
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // `interval_ms` 0: flush only on request; N > 0: also at least every N ms.
  void Register(Flushable* target, int64_t interval_ms);
  // Waits for a Flush() of `target` in progress to return.
  void Unregister(Flushable* target);
  // Schedules a flush of `target` as soon as the thread is free.
  void Request(Flushable* target);

  // Syncs performed so far (a metric).
  uint64_t flush_count() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int64_t interval_ms = 0;
    Clock::time_point next_due = Clock::time_point::max();
    bool requested = false;
    bool in_flight = false;
  };

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Flushable*, Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set when a registration changed the deadlines the thread sleeps on.
  bool deadlines_changed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flush_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace rill::storage
