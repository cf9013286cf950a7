// Starting a runspace's Boost.Thread, the one place a thread start can fail, with a fault switch
// so that tests can make the system refuse threads the way `ulimit -u` does.
#pragma once

#include <functional>

#include <boost/thread/thread.hpp>

namespace rsp::detail {

/// Runs `body` on a new thread. Throws boost::thread_resource_error (a std::exception) when the
/// system, or a ThreadStartFault, refuses.
boost::thread start_thread(std::function<void()> body);

/// For tests: while one exists, a thread start for which `refuse` returns true fails.
class ThreadStartFault {
 public:
  explicit ThreadStartFault(std::function<bool()> refuse);
  ~ThreadStartFault();
  ThreadStartFault(const ThreadStartFault&) = delete;
  ThreadStartFault& operator=(const ThreadStartFault&) = delete;
};

}  // namespace rsp::detail
