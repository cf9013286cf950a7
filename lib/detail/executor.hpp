// A Boost.Asio io_context with one thread of its own: what a pool's job factory feeds on, and
// what the registry's deadline watchers run on.
#pragma once

#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace rsp::detail {

/// An io_context run by one thread of its own. The thread holds the io_context, so destroying
/// the executor from one of its own handlers is safe. A handler that throws does not end the
/// process: the thread runs the io_context again.
class Executor {
 public:
  Executor();
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  boost::asio::io_context& io() noexcept { return *io_; }

 private:
  std::shared_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

}  // namespace rsp::detail
