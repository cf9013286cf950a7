// The common shape of option errors: "rsp::Struct::field must be ..., got VALUE".
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace rsp::detail {

[[noreturn]] inline void reject(const std::string& option, const std::string& rule,
                                const std::string& got) {
  throw std::invalid_argument("rsp::" + option + " must be " + rule + ", got " + got);
}

inline void require_not_negative(const std::string& option, std::chrono::milliseconds value) {
  if (value.count() < 0) reject(option, "0 ms or more", std::to_string(value.count()) + " ms");
}

}  // namespace rsp::detail
