// Wall-clock time as Kafka timestamps: milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace rill::base {

inline int64_t WallClockMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace rill::base
