#include "storage/flusher.h"

#include <vector>

#include "absl/time/time.h"

namespace rill::storage {

Flusher::Flusher() : thread_([this] { Run(); }) {}

Flusher::~Flusher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
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
}

void Flusher::Request(Flushable* target) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(target);
  if (it != entries_.end()) it->second.requested = true;
}

uint64_t Flusher::flush_count() const {
  absl::MutexLock lock(&mu_);
  return flush_count_;
}

bool Flusher::HasWork() const {
  if (stopping_ || deadlines_changed_) return true;
  for (const auto& [target, entry] : entries_) {
    if (entry.requested && !entry.in_flight) return true;
  }
  return false;
}

void Flusher::Run() {
  std::vector<Flushable*> batch;
  absl::MutexLock lock(&mu_);
  while (true) {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& [target, entry] : entries_) earliest = std::min(earliest, entry.next_due);
    if (earliest == Clock::time_point::max()) {
      mu_.Await(absl::Condition(this, &Flusher::HasWork));
    } else {
      absl::Duration wait = absl::FromChrono(earliest - Clock::now());
      mu_.AwaitWithTimeout(absl::Condition(this, &Flusher::HasWork), wait);
    }
    if (stopping_) return;
    deadlines_changed_ = false;

    auto now = Clock::now();
    batch.clear();
    for (auto& [target, entry] : entries_) {
      if (entry.in_flight || !(entry.requested || entry.next_due <= now)) continue;
      entry.requested = false;
      entry.in_flight = true;
      if (entry.interval_ms > 0)
        entry.next_due = now + std::chrono::milliseconds(entry.interval_ms);
      batch.push_back(target);
    }
    for (Flushable* target : batch) {
      mu_.Unlock();
      target->Flush();
      mu_.Lock();
      entries_[target].in_flight = false;
      ++flush_count_;
    }
  }
}

}  // namespace rill::storage
