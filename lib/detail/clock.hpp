// Deadlines that saturate instead of overflowing: a timeout of milliseconds::max() means never.
// Wall-clock stamps derived from steady-clock reads, so a job costs one clock read per stamp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace rsp::detail {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_after(Clock::time_point from, std::chrono::milliseconds delay) {
  auto room =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - from);
  if (delay >= room) return Clock::time_point::max();
  return from + delay;
}

/// The system clock minus the steady clock, in ns. Sampled again whenever jobs are queued (once
/// per feed round), so stamps follow a wall-clock change within one round.
class WallClock {
 public:
  /// Samples both clocks; returns the system clock's reading. Steady first: a preemption
  /// between the reads can only move later stamps later, so a job never starts before the
  /// queued stamp taken with the same reading.
  static std::chrono::system_clock::time_point resync() noexcept {
    auto steady = Clock::now();
    auto system = std::chrono::system_clock::now();
    offset_.store(ns(system.time_since_epoch()) - ns(steady.time_since_epoch()),
                  std::memory_order_relaxed);
    return system;
  }

  /// The system-clock time of a steady-clock reading.
  static std::chrono::system_clock::time_point at(Clock::time_point t) noexcept {
    std::int64_t offset = offset_.load(std::memory_order_relaxed);
    if (offset == kUnset) {
      resync();
      offset = offset_.load(std::memory_order_relaxed);
    }
    auto since_epoch = std::chrono::nanoseconds(ns(t.time_since_epoch()) + offset);
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
  }

 private:
  static constexpr std::int64_t kUnset = std::numeric_limits<std::int64_t>::min();
  template <class D>
  static std::int64_t ns(D d) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }
  static inline std::atomic<std::int64_t> offset_{kUnset};
};

}  // namespace rsp::detail
