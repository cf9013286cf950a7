// One timer per pool for every runspace's deadline (a job's timeout, a stop's grace), on the
// registry's watch executor. Arming is a compare-and-swap: only a deadline earlier than the one
// armed costs a post, so a job with a timeout costs about the same as one without (bench case 2).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rsp::detail {

/// What the watch wakes when its deadline comes: it looks at its runspaces and arms again for
/// the next deadline it finds.
class DeadlineTarget {
 public:
  virtual void on_deadline() = 0;

 protected:
  ~DeadlineTarget() = default;
};

/// Thread Safety: arm() and cancel() from any thread; the timer itself is touched only on the
/// watch executor. The target owns the watch: a handler that finds the target gone does nothing.
class DeadlineWatch {
 public:
  explicit DeadlineWatch(boost::asio::io_context& io) : timer_(io) {}

  /// Once, before the first arm().
  void bind(std::weak_ptr<DeadlineTarget> target) { target_ = std::move(target); }
  /// The target's on_deadline() runs at or soon after `deadline` (or an earlier armed one).
  void arm(std::chrono::steady_clock::time_point deadline);
  /// Arms nothing more and cancels the timer.
  void cancel();

 private:
  static constexpr std::int64_t kNotArmed = INT64_MAX;

  void rearm();

  std::weak_ptr<DeadlineTarget> target_;
  std::atomic<std::int64_t> armed_at_{kNotArmed};  // the timer's expiry, steady ns
  std::atomic<bool> cancelled_{false};
  boost::asio::steady_timer timer_;  // only touched on the watch executor
};

}  // namespace rsp::detail
