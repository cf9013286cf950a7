// samples/duration.hpp: parses a duration given on a command line ("200ms", "5s", "1.5s", "2m").
//
// Grammar: DIGITS [ "." DIGITS ] [ UNIT ], UNIT one of "ms", "s", "m", "h". A number without a unit
// is in seconds, as GNU parallel's --timeout reads it ("250" is 250 s, not 250 ms). The result is
// in whole milliseconds, rounded up, so a positive duration never becomes 0 ("0.0001s" is 1 ms);
// "0" is 0 ms (for --timeout: no limit). Signs, spaces, exponents, an empty text, an unknown unit
// and a value past std::chrono::milliseconds::max() throw std::invalid_argument naming the text.
//
// Header-only and free of the library, so that a fuzzer or a test can use it alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace samples {

namespace duration_detail {

[[noreturn]] inline void reject(std::string_view text, std::string_view why) {
  throw std::invalid_argument("invalid duration '" + std::string(text) + "': " + std::string(why));
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace duration_detail

/// "200ms" -> 200 ms, "5s" -> 5000 ms, "1.5s" -> 1500 ms, "2m" -> 120000 ms, "1h", "250" -> 250 s.
inline std::chrono::milliseconds parse_duration(std::string_view text) {
  using duration_detail::is_digit;
  using duration_detail::reject;
  constexpr std::uint64_t kMax =
      static_cast<std::uint64_t>(std::chrono::milliseconds::max().count());

  std::size_t pos = 0;
  auto digits = [&] {
    std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    return text.substr(start, pos - start);
  };
  if (text.empty()) reject(text, "empty");
  if (text.front() == '-') reject(text, "negative");
  std::string_view whole = digits();
  if (whole.empty()) reject(text, "expected a number such as 200ms, 5s, 1.5s or 2m");
  std::string_view fraction;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    fraction = digits();
    if (fraction.empty()) reject(text, "expected digits after the decimal point");
  }
  std::string_view unit = text.substr(pos);
  std::uint64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s" || unit.empty()) {
    unit_ms = 1'000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    reject(text, "unknown unit '" + std::string(unit) + "' (use ms, s, m or h)");
  }

  std::uint64_t value = 0;  // the whole part, in units
  for (char c : whole) {
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - d) / 10) reject(text, "too large");
    value = value * 10 + d;
  }
  if (value > kMax / unit_ms) reject(text, "too large");
  std::uint64_t ms = value * unit_ms;

  // The fraction times the unit, exactly, however many digits: long multiplication from the last
  // digit. What carries out is the whole milliseconds; any digit left behind rounds up.
  std::uint64_t carry = 0;
  bool remainder = false;
  for (std::size_t i = fraction.size(); i-- > 0;) {
    std::uint64_t t = static_cast<std::uint64_t>(fraction[i] - '0') * unit_ms + carry;
    remainder = remainder || t % 10 != 0;
    carry = t / 10;
  }
  std::uint64_t fraction_ms = carry + (remainder ? 1 : 0);
  if (fraction_ms > kMax - ms) reject(text, "too large");
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms + fraction_ms));
}

}  // namespace samples
