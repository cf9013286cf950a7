#include "detail/thread_start.hpp"

#include <cerrno>
#include <memory>
#include <mutex>

#include <boost/thread/exceptions.hpp>

namespace rsp::detail {
namespace {
// Leaf lock: nothing else is taken while it is held, and the switch is called outside it.
std::mutex fault_mutex;
std::shared_ptr<std::function<bool()>> fault;  // guarded by fault_mutex
}  // namespace

boost::thread start_thread(std::function<void()> body) {
  std::shared_ptr<std::function<bool()>> refuse;
  {
    std::lock_guard lock(fault_mutex);
    refuse = fault;
  }
  if (refuse && (*refuse)()) {
    throw boost::thread_resource_error(EAGAIN, "boost::thread_resource_error");
  }
  return boost::thread(std::move(body));
}

ThreadStartFault::ThreadStartFault(std::function<bool()> refuse) {
  std::lock_guard lock(fault_mutex);
  fault = std::make_shared<std::function<bool()>>(std::move(refuse));
}

ThreadStartFault::~ThreadStartFault() {
  std::lock_guard lock(fault_mutex);
  fault.reset();
}

}  // namespace rsp::detail
