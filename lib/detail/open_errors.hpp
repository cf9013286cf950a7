// RunspacePool::open_errors(): why runspaces could not open, kept to a bound, so a system out of
// threads (every job asking again) costs a count, not a message per job.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "detail/mutex.hpp"

namespace rsp::detail {

/// Thread Safety: every function from any thread. Its mutex is a leaf.
class OpenErrors {
 public:
  static constexpr std::size_t kMaxKept = 8;

  /// Keeps the message while under the bound; counts it otherwise.
  void keep(std::string message) noexcept;
  /// In a catch block: keeps `what` followed by the message of the exception being handled.
  void keep_current(const std::string& what) noexcept;
  /// The messages kept, then "and N more" when some were only counted.
  std::vector<std::string> list() const;

 private:
  mutable Mutex mutex_;
  std::vector<std::string> kept_ RSP_GUARDED_BY(mutex_);
  std::size_t dropped_ RSP_GUARDED_BY(mutex_) = 0;
};

}  // namespace rsp::detail
