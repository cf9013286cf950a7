#include "detail/thread_start.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>

#include <boost/thread/exceptions.hpp>

#include "detail/mutex.hpp"

namespace rsp::detail {
namespace {
// Leaf lock: nothing else is taken while it is held, and the switch is called outside it.
Mutex fault_mutex;  // a leaf
std::shared_ptr<std::function<bool()>> fault RSP_GUARDED_BY(fault_mutex);
}  // namespace

boost::thread start_thread(std::function<void()> body) {
  std::shared_ptr<std::function<bool()>> refuse;
  {
    Lock lock(fault_mutex);
    refuse = fault;
  }
  if (refuse && (*refuse)()) {
    throw boost::thread_resource_error(EAGAIN, "boost::thread_resource_error");
  }
  return boost::thread(std::move(body));
}

ThreadStartFault::ThreadStartFault(std::function<bool()> refuse) {
  Lock lock(fault_mutex);
  fault = std::make_shared<std::function<bool()>>(std::move(refuse));
}

ThreadStartFault::~ThreadStartFault() {
  Lock lock(fault_mutex);
  fault.reset();
}

namespace {
// The same deadline on Boost's clock, for try_join_until; saturating like deadline_after.
boost::chrono::steady_clock::time_point to_boost(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    return boost::chrono::steady_clock::time_point::max();
  }
  auto boost_now = boost::chrono::steady_clock::now();
  std::int64_t left_ms = std::max<std::int64_t>(
      0, std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
             .count());
  auto room = boost::chrono::duration_cast<boost::chrono::milliseconds>(
      boost::chrono::steady_clock::time_point::max() - boost_now);
  if (left_ms >= room.count()) return boost::chrono::steady_clock::time_point::max();
  return boost_now + boost::chrono::milliseconds(left_ms);
}
}  // namespace

void consume_stale_interrupt() {
  if (!boost::this_thread::interruption_requested()) return;
  try {
    boost::this_thread::interruption_point();
  } catch (const boost::thread_interrupted&) {
  }
}

bool join_thread_until(boost::thread& thread, std::chrono::steady_clock::time_point deadline) {
  if (!thread.joinable()) return true;
  if (thread.get_id() == boost::this_thread::get_id()) return false;
  boost::this_thread::disable_interruption no_interrupts;
  return thread.try_join_until(to_boost(deadline));
}

}  // namespace rsp::detail
