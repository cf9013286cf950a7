#include "detail/deadline_watch.hpp"

#include <boost/asio/post.hpp>

namespace rsp::detail {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_ns(std::int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

void DeadlineWatch::arm(Clock::time_point deadline) {
  std::int64_t wanted = to_ns(deadline);
  std::int64_t current = armed_at_.load();
  while (wanted < current) {
    if (armed_at_.compare_exchange_weak(current, wanted)) {
      boost::asio::post(timer_.get_executor(), [this, target = target_] {
        if (auto owner = target.lock()) rearm();  // the owner keeps this watch alive
      });
      return;
    }
  }
}

void DeadlineWatch::rearm() {
  std::int64_t at = armed_at_.load();
  if (at == kNotArmed || cancelled_.load()) return;
  timer_.expires_at(from_ns(at));
  timer_.async_wait([this, target = target_](const boost::system::error_code& error) {
    if (error) return;  // re-armed earlier, or cancelled
    if (auto owner = target.lock()) {
      armed_at_.store(kNotArmed);
      owner->on_deadline();
    }
  });
}

void DeadlineWatch::cancel() {
  cancelled_.store(true);
  // Holds the owner until the timer is cancelled on its own executor; if this is the last
  // reference then, the owner (and the timer) go away there.
  if (auto owner = target_.lock()) {
    boost::asio::post(timer_.get_executor(), [this, owner] { timer_.cancel(); });
  }
}

}  // namespace rsp::detail
