// Values of the commonest types cross to worker processes as their bytes, not through a Boost
// archive: an archive builds and destroys a std::locale each time it is made, and with int
// inputs and outputs that was a quarter of a process pool's CPU time (tests/bench/README.md,
// case 9). Both ends are the same executable, so a scalar's bytes mean the same on both.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace rsp::detail {

/// Types that cross as plain bytes: arithmetic types and std::string.
template <class T>
inline constexpr bool is_plain_v = std::is_arithmetic_v<T> || std::is_same_v<T, std::string>;

/// Appends `value`: a scalar's bytes, or a string's 8-byte length and its bytes.
template <class T>
void append_plain(std::string& out, const T& value) {
  static_assert(is_plain_v<T>);
  if constexpr (std::is_same_v<T, std::string>) {
    auto size = static_cast<std::uint64_t>(value.size());
    out.append(reinterpret_cast<const char*>(&size), sizeof size);
    out.append(value);
  } else {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
}

/// Reads a value append_plain wrote from the front of `in`, and drops it from `in`. Throws
/// std::invalid_argument when `in` is too short.
template <class T>
T take_plain(std::string_view& in) {
  static_assert(is_plain_v<T>);
  auto take = [&](std::size_t size) {
    if (size > in.size()) {
      throw std::invalid_argument("rsp: a value from another process ends " +
                                  std::to_string(size - in.size()) + " bytes short");
    }
    std::string_view part = in.substr(0, size);
    in.remove_prefix(size);
    return part;
  };
  if constexpr (std::is_same_v<T, std::string>) {
    std::uint64_t size = 0;
    std::memcpy(&size, take(sizeof size).data(), sizeof size);
    return std::string(take(size));
  } else {
    T value{};
    std::memcpy(&value, take(sizeof value).data(), sizeof value);
    return value;
  }
}

}  // namespace rsp::detail
