#include "base/byte_budget.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

using rill::base::ByteBudget;

TEST_CASE("byte budget: takes what fits, all or nothing, or up to a size", "[base]") {
  ByteBudget budget(100);
  CHECK(budget.TryTake(60));
  CHECK_FALSE(budget.TryTake(50));
  CHECK(budget.held() == 60);
  CHECK(budget.TakeUpTo(50) == 40);
  CHECK(budget.TakeUpTo(10) == 0);
  budget.Give(40);
  CHECK(budget.TakeUpTo(50, 41) == 0);
  CHECK(budget.TakeUpTo(50, 40) == 40);
  budget.Give(100);
  CHECK(budget.held() == 0);
}

TEST_CASE("byte budget: one holder larger than the budget gets in alone", "[base]") {
  ByteBudget budget(100);
  CHECK(budget.TryTake(500));
  CHECK_FALSE(budget.TryTake(1));
  budget.Give(500);
  CHECK(budget.TakeUpTo(300) == 300);
}

TEST_CASE("byte budget: concurrent takers never hold more than the budget", "[base]") {
  ByteBudget budget(1000);
  std::atomic<int64_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        const int64_t got = budget.TakeUpTo(70);
        if (got == 0) continue;
        int64_t seen = peak.load();
        while (budget.held() > seen && !peak.compare_exchange_weak(seen, budget.held())) {
        }
        budget.Give(got);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(budget.held() == 0);
  CHECK(peak.load() <= 1000);
}
