#include "detail/open_errors.hpp"

#include <exception>

namespace rsp::detail {

void OpenErrors::keep(std::string message) noexcept {
  Lock lock(mutex_);
  try {
    if (kept_.size() < kMaxKept) {
      kept_.push_back(std::move(message));
      return;
    }
  } catch (...) {
    // No memory for the message: the count still tells.
  }
  ++dropped_;
}

void OpenErrors::keep_current(const std::string& what) noexcept {
  try {
    std::string message = what;
    try {
      throw;
    } catch (const std::exception& e) {
      message += e.what();
    } catch (...) {
      message += "unknown error";
    }
    keep(std::move(message));
  } catch (...) {
    Lock lock(mutex_);
    ++dropped_;  // no memory for the message: the count still tells
  }
}

std::vector<std::string> OpenErrors::list() const {
  Lock lock(mutex_);
  std::vector<std::string> errors = kept_;
  if (dropped_ != 0) errors.push_back("and " + std::to_string(dropped_) + " more");
  return errors;
}

}  // namespace rsp::detail
