// Starting a runspace's Boost.Thread, the one place a thread start can fail, with a fault switch
// so that tests can make the system refuse threads the way `ulimit -u` does.
#pragma once

#include <chrono>
#include <functional>

#include <boost/thread/thread.hpp>

namespace rsp::detail {

/// Runs `body` on a new thread. Throws boost::thread_resource_error (a std::exception) when the
/// system, or a ThreadStartFault, refuses.
boost::thread start_thread(std::function<void()> body);

/// Joins `thread` by `deadline`; false when it did not end by then, or when `thread` is the
/// calling thread (a job closing its own pool). Interruption is held off while joining: a Boost
/// join is an interruption point, and the caller may be a job's thread just interrupted.
bool join_thread_until(boost::thread& thread, std::chrono::steady_clock::time_point deadline);

/// Drops an interrupt of the calling Boost.Thread that was meant for the job that just ended (a
/// stop that reached the thread after the job returned), so the next job never sees it: a Boost
/// interrupt stays pending until an interruption point takes it.
void consume_stale_interrupt();

/// For tests: while one exists, a thread start for which `refuse` returns true fails.
class ThreadStartFault {
 public:
  explicit ThreadStartFault(std::function<bool()> refuse);
  ~ThreadStartFault();
  ThreadStartFault(const ThreadStartFault&) = delete;
  ThreadStartFault& operator=(const ThreadStartFault&) = delete;
};

}  // namespace rsp::detail
