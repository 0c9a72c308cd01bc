#include "storage/flusher.h"

#include <algorithm>

#include "absl/time/time.h"

namespace rill::storage {

Flusher::Flusher(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Run(); });
}

Flusher::~Flusher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& thread : threads_) thread.join();
}

void Flusher::Register(Flushable* target, int64_t interval_ms) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[target];
  entry.interval_ms = interval_ms;
  entry.next_due = interval_ms > 0 ? Clock::now() + std::chrono::milliseconds(interval_ms)
                                   : Clock::time_point::max();
  deadlines_changed_ = true;
}

void Flusher::Unregister(Flushable* target) {
  absl::MutexLock lock(&mu_);
  auto idle = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = entries_.find(target);
    return it == entries_.end() || !it->second.in_flight;
  };
  mu_.Await(absl::Condition(&idle));
  entries_.erase(target);
  ready_.erase(std::remove(ready_.begin(), ready_.end(), target), ready_.end());
}

void Flusher::Request(Flushable* target) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(target);
  if (it != entries_.end()) Enqueue(target, it->second);
}

void Flusher::Enqueue(Flushable* target, Entry& entry) {
  if (entry.queued) return;
  entry.queued = true;
  ready_.push_back(target);
}

uint64_t Flusher::flush_count() const {
  absl::MutexLock lock(&mu_);
  return flush_count_;
}

bool Flusher::HasWork() const {
  if (stopping_ || deadlines_changed_) return true;
  for (Flushable* target : ready_) {
    if (!entries_.at(target).in_flight) return true;
  }
  return false;
}

Flusher::Clock::time_point Flusher::QueueDue(Clock::time_point now) {
  Clock::time_point earliest = Clock::time_point::max();
  for (auto& [target, entry] : entries_) {
    if (entry.next_due <= now) {
      Enqueue(target, entry);
      entry.next_due = now + std::chrono::milliseconds(entry.interval_ms);
    }
    earliest = std::min(earliest, entry.next_due);
  }
  return earliest;
}

void Flusher::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const Clock::time_point earliest = QueueDue(Clock::now());
    if (earliest == Clock::time_point::max()) {
      mu_.Await(absl::Condition(this, &Flusher::HasWork));
    } else {
      mu_.AwaitWithTimeout(absl::Condition(this, &Flusher::HasWork),
                           absl::FromChrono(earliest - Clock::now()));
    }
    if (stopping_) return;
    deadlines_changed_ = false;
    QueueDue(Clock::now());

    // The oldest request whose log no other thread is flushing.
    auto it = std::find_if(ready_.begin(), ready_.end(),
                           [this](Flushable* t) { return !entries_.at(t).in_flight; });
    if (it == ready_.end()) continue;
    Flushable* target = *it;
    ready_.erase(it);
    Entry& entry = entries_.at(target);
    entry.queued = false;
    entry.in_flight = true;
    mu_.Unlock();
    target->Flush();
    mu_.Lock();
    // Unregister waits for in_flight to clear, so the entry is still there.
    entries_.at(target).in_flight = false;
    ++flush_count_;
  }
}

}  // namespace rill::storage
