#include "storage/flusher.h"

#include <atomic>
#include <chrono>
#include <future>

#include "absl/synchronization/notification.h"
#include "catch2/catch.hpp"

namespace rill::storage {
namespace {

class CountingTarget : public Flushable {
 public:
  void Flush() override { ++flushes; }
  std::atomic<int> flushes{0};
};

// A flush that blocks until released: stands in for an fdatasync waiting on the disk.
class BlockingTarget : public Flushable {
 public:
  void Flush() override {
    entered.Notify();
    release.WaitForNotification();
    ++flushes;
  }
  absl::Notification entered;
  absl::Notification release;
  std::atomic<int> flushes{0};
};

bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE("flusher: a slow sync of one log does not hold up another", "[storage]") {
  Flusher flusher(2);
  BlockingTarget slow;
  CountingTarget fast;
  flusher.Register(&slow, 0);
  flusher.Register(&fast, 0);
  flusher.Request(&slow);
  REQUIRE(slow.entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  flusher.Request(&fast);
  CHECK(WaitFor([&] { return fast.flushes.load() == 1; }));
  CHECK(slow.flushes.load() == 0);
  slow.release.Notify();
  CHECK(WaitFor([&] { return slow.flushes.load() == 1; }));
  flusher.Unregister(&slow);
  flusher.Unregister(&fast);
}

TEST_CASE("flusher: one log is never flushed by two threads at once", "[storage]") {
  class Exclusive : public Flushable {
   public:
    void Flush() override {
      if (inside.exchange(true)) overlapped = true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      inside = false;
      ++flushes;
    }
    std::atomic<bool> inside{false};
    std::atomic<bool> overlapped{false};
    std::atomic<int> flushes{0};
  };
  Flusher flusher(4);
  Exclusive target;
  flusher.Register(&target, 0);
  for (int i = 0; i < 200; ++i) {
    flusher.Request(&target);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  // A request made while a flush runs gets a flush of its own after it.
  const int before = target.flushes.load();
  flusher.Request(&target);
  CHECK(WaitFor([&] { return target.flushes.load() > before; }));
  CHECK_FALSE(target.overlapped.load());
  flusher.Unregister(&target);
}

TEST_CASE("flusher: an interval target is flushed without requests", "[storage]") {
  Flusher flusher;
  CountingTarget target;
  flusher.Register(&target, 5);
  CHECK(WaitFor([&] { return target.flushes.load() >= 3; }));
  flusher.Unregister(&target);
  const int after = target.flushes.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(target.flushes.load() == after);
}

}  // namespace
}  // namespace rill::storage
