#include "detail/executor.hpp"

namespace rsp::detail {

Executor::Executor()
    : io_(std::make_shared<boost::asio::io_context>(1)),
      guard_(boost::asio::make_work_guard(*io_)),
      thread_([io = io_] {
        // Asio lets run() be called again after a handler threw (out of memory, say).
        for (;;) {
          try {
            io->run();
            return;
          } catch (...) {
          }
        }
      }) {}

Executor::~Executor() {
  guard_.reset();
  io_->stop();
  // The last owner may be one of this executor's own handlers; the thread keeps io_ alive.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

}  // namespace rsp::detail
