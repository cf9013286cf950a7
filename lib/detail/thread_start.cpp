#include "detail/thread_start.hpp"
#include "detail/mutex.hpp"

#include <cerrno>
#include <memory>

#include <boost/thread/exceptions.hpp>

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

}  // namespace rsp::detail
