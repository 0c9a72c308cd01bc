// ByteBudget: a bound on bytes held at once by work of one kind across a process (requests
// being handled, fetch responses being built and sent).
//
// One holder is always let in when nothing is held, whatever its size, so that an item larger
// than the whole budget still makes progress (alone); other limits bound single items.
//
// Thread-safe; lock-free.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace rill::base {

class ByteBudget {
 public:
  explicit ByteBudget(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes all of `bytes`, or nothing (returns false) when they do not fit.
  bool TryTake(int64_t bytes) { return TakeUpTo(bytes, bytes) == bytes; }

  // Takes as much of `want` as fits, but nothing unless at least `min` fits; returns what it took.
  int64_t TakeUpTo(int64_t want, int64_t min = 1) {
    int64_t held = held_.load();
    int64_t take = 0;
    do {
      take = held == 0 ? want : std::min(want, max_bytes_ - held);
      if (take < min) return 0;
    } while (!held_.compare_exchange_weak(held, held + take));
    return take;
  }

  // Counts bytes that are held already (an answer built before it could be refused); they may
  // take the total past the maximum, and later takers wait until they are given back.
  void Add(int64_t bytes) { held_.fetch_add(bytes); }

  void Give(int64_t bytes) { held_.fetch_sub(bytes); }

  int64_t held() const { return held_.load(); }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  const int64_t max_bytes_;
  std::atomic<int64_t> held_{0};
};

}  // namespace rill::base
