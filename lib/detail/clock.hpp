// Deadlines that saturate instead of overflowing: a timeout of milliseconds::max() means never.
#pragma once

#include <chrono>

namespace rsp::detail {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_after(Clock::time_point from, std::chrono::milliseconds delay) {
  auto room =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - from);
  if (delay >= room) return Clock::time_point::max();
  return from + delay;
}

}  // namespace rsp::detail
