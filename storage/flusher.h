// Group commit: a few threads that make logs durable on behalf of every appender.
//
// An appender writes its batch into the page cache and asks the flusher to flush the log; a
// flusher thread calls Flush() on it, which fdatasyncs once for everything written so far and
// completes every append that sync covered. While one sync runs, new appends pile up and are
// covered together by the next one, so the number of syncs adapts to the load.
//
// One log is flushed by at most one thread at a time; different logs are flushed in parallel,
// in the order they asked, because a sync mostly waits on the disk and the file system joins
// concurrent syncs into one journal commit. With one thread, N busy partitions would each wait
// for N syncs in a row.
//
// Logs with a relaxed policy (flush.ms > 0) are flushed at their interval instead.
//
// Thread-safety: all methods are thread-safe. Flush() is never called concurrently for one
// target, and never after Unregister() returned.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

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
  static constexpr int kDefaultThreads = 4;

  explicit Flusher(int threads = kDefaultThreads);
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
    // In ready_: flushed by the next free thread once no other thread is flushing it.
    bool queued = false;
    bool in_flight = false;
  };

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Flushable* target, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the entries whose interval is up; returns the earliest deadline still ahead.
  Clock::time_point QueueDue(Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Flushable*, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<Flushable*> ready_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set when a registration changed the deadlines the threads sleep on.
  bool deadlines_changed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flush_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace rill::storage
