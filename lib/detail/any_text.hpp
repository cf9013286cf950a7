// A C string stored in std::any (`const char*`, or `char*` from a char array, which std::any
// decays to a pointer) would point into the caller's memory: it is kept as std::string instead.
#pragma once

#include <any>
#include <string>

namespace rsp::detail {

inline void own_text(std::any& value) {
  if (const char* const* text = std::any_cast<const char*>(&value)) {
    value = std::string(*text);
  } else if (char* const* chars = std::any_cast<char*>(&value)) {
    value = std::string(*chars);
  }
}

}  // namespace rsp::detail
