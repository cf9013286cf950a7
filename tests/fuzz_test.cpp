// Seeded random loops (clang's libFuzzer is not set up in this build) over the two text formats
// the project parses or writes: the --timeout duration of the samples, and the CSV job log.
// The seed is printed; set RSPARALLEL_FUZZ_SEED to replay a run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <rsparallel/rsparallel.hpp>
#include "../samples/duration.hpp"
#include "detail/job_log.hpp"

using namespace std::chrono_literals;

namespace {

std::uint32_t fuzz_seed() {
  if (const char* text = std::getenv("RSPARALLEL_FUZZ_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
  }
  return std::random_device{}();
}

// ---- an independent oracle for the duration grammar ----------------------------------------

// Non-negative decimal numbers as digit strings without leading zeros ("0" for zero).
std::string strip_zeros(std::string digits) {
  std::size_t first = digits.find_first_not_of('0');
  return first == std::string::npos ? "0" : digits.substr(first);
}

// digits * factor, for a small factor.
std::string multiply(const std::string& digits, std::uint64_t factor) {
  std::string result;  // least significant digit first, reversed at the end
  unsigned __int128 carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    unsigned __int128 v = static_cast<unsigned __int128>(*it - '0') * factor + carry;
    result += static_cast<char>('0' + static_cast<int>(v % 10));
    carry = v / 10;
  }
  for (; carry != 0; carry /= 10) result += static_cast<char>('0' + static_cast<int>(carry % 10));
  return strip_zeros(std::string(result.rbegin(), result.rend()));
}

std::string add(const std::string& a, const std::string& b) {
  std::string result;
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry != 0; ++i) {
    int da = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    int db = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    int v = da + db + carry;
    result += static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  return strip_zeros(std::string(result.rbegin(), result.rend()));
}

bool greater(const std::string& a, const std::string& b) {  // both without leading zeros
  if (a.size() != b.size()) return a.size() > b.size();
  return a > b;
}

// What parse_duration must do with `text`: the exact milliseconds, rounded up, or nothing when
// the text is not DIGITS [ "." DIGITS ] [ ms | s | m | h ] or its value passes the maximum.
std::optional<std::int64_t> expected_ms(const std::string& text) {
  // DIGITS [ "." DIGITS ] [ ms | s | m | h ], read by hand (std::regex is slow in Debug).
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t pos = 0;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  std::string whole = text.substr(0, pos);
  if (whole.empty()) return std::nullopt;
  std::string fraction;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    fraction = text.substr(start, pos - start);
    if (fraction.empty()) return std::nullopt;
  }
  std::string unit = text.substr(pos);
  if (unit != "" && unit != "ms" && unit != "s" && unit != "m" && unit != "h") return std::nullopt;
  std::uint64_t unit_ms = unit == "ms"  ? 1
                          : unit == "m" ? 60'000
                          : unit == "h" ? 3'600'000
                                        : 1'000;  // "s" or none
  std::string whole_ms = multiply(strip_zeros(whole), unit_ms);
  // fraction * unit / 10^len, rounded up: the product's last len digits are the remainder.
  std::string scaled = multiply(fraction.empty() ? "0" : strip_zeros(fraction), unit_ms);
  std::string padded =
      std::string(fraction.size() + 1 > scaled.size() ? fraction.size() + 1 - scaled.size() : 0,
                  '0') +
      scaled;
  std::string integral = strip_zeros(padded.substr(0, padded.size() - fraction.size()));
  bool remainder =
      padded.substr(padded.size() - fraction.size()).find_first_not_of('0') != std::string::npos;
  std::string total = add(whole_ms, remainder ? add(integral, "1") : integral);
  const std::string max = std::to_string(std::chrono::milliseconds::max().count());
  if (greater(total, max)) return std::nullopt;
  return static_cast<std::int64_t>(std::stoull(total));
}

// The parser's contract for any text: a non-negative value or std::invalid_argument.
// Returns a failure description, or an empty string.
std::string check_duration(const std::string& text) {
  std::optional<std::int64_t> want = expected_ms(text);
  try {
    std::chrono::milliseconds got = samples::parse_duration(text);
    if (got.count() < 0) return "negative result " + std::to_string(got.count());
    if (!want) return "accepted text outside the grammar, giving " + std::to_string(got.count());
    if (got.count() != *want) {
      return "gave " + std::to_string(got.count()) + " ms, expected " + std::to_string(*want);
    }
  } catch (const std::invalid_argument& e) {
    if (want) return "rejected a valid duration (" + std::to_string(*want) + " ms): " + e.what();
    if (std::string_view(e.what()).find("invalid duration") == std::string_view::npos) {
      return std::string("message does not say what is wrong: ") + e.what();
    }
  } catch (const std::exception& e) {
    return std::string("threw another exception type: ") + e.what();
  } catch (...) {
    return "threw a non-std exception";
  }
  return {};
}

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

const char* const kUnits[] = {"ms", "s", "m", "h", ""};

std::string digits(std::mt19937& rng, std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> len(1, max_len);
  std::uniform_int_distribution<int> digit(0, 9);
  std::string s;
  for (std::size_t n = len(rng); n > 0; --n) s += static_cast<char>('0' + digit(rng));
  return s;
}

// A valid duration: DIGITS [ "." DIGITS ] [ UNIT ], lengths skewed short but reaching overflow.
std::string valid_duration(std::mt19937& rng) {
  std::string text = digits(rng, rng() % 8 == 0 ? 22 : 6);
  if (rng() % 3 == 0) text += "." + digits(rng, rng() % 4 == 0 ? 14 : 4);
  return text + kUnits[rng() % 5];
}

std::string random_text(std::mt19937& rng) {
  static const std::string alphabet = "0123456789.mshMSH-+ eE_,x\t\n";
  std::string text;
  for (std::size_t n = rng() % 12; n > 0; --n) {
    if (rng() % 10 == 0) {
      text += static_cast<char>(rng() % 256);  // any byte, NUL and high bytes included
    } else {
      text += alphabet[rng() % alphabet.size()];
    }
  }
  return text;
}

// A valid duration with one small mutation: a character inserted, removed or replaced.
std::string near_valid(std::mt19937& rng) {
  static const std::string noise("0123456789.msh-+ eE\0x", 21);  // with a NUL
  std::string text = valid_duration(rng);
  std::size_t at = rng() % (text.size() + 1);
  switch (rng() % 3) {
    case 0:
      text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), noise[rng() % noise.size()]);
      break;
    case 1:
      if (at < text.size()) text.erase(at, 1);
      break;
    default:
      if (at < text.size()) text[at] = noise[rng() % noise.size()];
      break;
  }
  return text;
}

// ---- RFC 4180 ------------------------------------------------------------------------------

struct CsvError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One record ending in CRLF, strictly as RFC 4180 reads it: a plain field holds no comma,
// quote, CR or LF; a quoted one doubles its quotes and is followed by a comma or the CRLF.
std::vector<std::string> parse_record(std::string_view text) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  for (;;) {
    std::string field;
    if (i < text.size() && text[i] == '"') {
      ++i;
      for (;;) {
        if (i >= text.size()) throw CsvError("unterminated quoted field");
        char c = text[i++];
        if (c != '"') {
          field += c;
        } else if (i < text.size() && text[i] == '"') {
          field += '"';
          ++i;
        } else {
          break;
        }
      }
    } else {
      while (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
        if (text[i] == '"') throw CsvError("quote in a plain field");
        field += text[i++];
      }
    }
    fields.push_back(std::move(field));
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (text.substr(i) == "\r\n") return fields;
    throw CsvError("stray text after a field at offset " + std::to_string(i));
  }
}

std::string random_field(std::mt19937& rng) {
  static const std::string specials = ",\"\r\n \t'";
  std::string text;
  for (std::size_t n = rng() % 16; n > 0; --n) {
    switch (rng() % 4) {
      case 0:
        text += specials[rng() % specials.size()];
        break;
      case 1:
        text += static_cast<char>(rng() % 256);
        break;
      default:
        text += static_cast<char>('a' + rng() % 26);
        break;
    }
  }
  return text;
}

// The messages of an errors or warnings field: the field is itself one CSV record, empty for none.
std::vector<std::string> list_of(const std::string& field) {
  if (field.empty()) return {};
  return parse_record(field + "\r\n");
}

}  // namespace

// The parser itself: text outside the grammar is rejected, every value is exact.
TEST(Fuzz, DurationOracleAgreesWithKnownValues) {
  EXPECT_EQ(expected_ms("200ms"), 200);
  EXPECT_EQ(expected_ms("1.5s"), 1500);
  EXPECT_EQ(expected_ms("2m"), 120'000);
  EXPECT_EQ(expected_ms("250"), 250'000);
  EXPECT_EQ(expected_ms("0.0001s"), 1);
  EXPECT_EQ(expected_ms("0.0000002779h"), 2);  // 1.00044 ms
  EXPECT_EQ(expected_ms("9223372036854775807ms"), std::chrono::milliseconds::max().count());
  EXPECT_EQ(expected_ms("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(expected_ms("1.s"), std::nullopt);
  EXPECT_EQ(expected_ms("-1s"), std::nullopt);
  EXPECT_EQ(expected_ms(""), std::nullopt);
}

// "The result is in whole milliseconds, rounded up" (samples/duration.hpp): a fraction longer than
// nine digits must still round up to the next millisecond past the exact value.
TEST(Fuzz, DurationRoundsUpLongFractions) {
  EXPECT_EQ(samples::parse_duration("0.0000002779h"), 2ms)
      << "0.0000002779 h is 1.00044 ms, which rounds up to 2 ms";
  EXPECT_EQ(samples::parse_duration("0.0000166669m"), 2ms)
      << "0.0000166669 min is 1.000014 ms, which rounds up to 2 ms";
  EXPECT_EQ(samples::parse_duration("0.0000000001s"), 1ms);
}

TEST(Fuzz, DurationParserNeverCrashesAndIsExact) {
  const std::uint32_t seed = fuzz_seed();
  std::cout << "[ fuzz seed ] " << seed << " (replay with RSPARALLEL_FUZZ_SEED=" << seed << ")\n";
  std::mt19937 rng(seed);
  int failures = 0;
  auto check = [&](const std::string& text, const char* kind) {
    std::string problem = check_duration(text);
    if (!problem.empty() && ++failures <= 10) {
      ADD_FAILURE() << kind << " '" << printable(text) << "': " << problem << " (seed " << seed
                    << ")";
    }
  };
  for (int i = 0; i < 15'000; ++i) check(random_text(rng), "random");
  for (int i = 0; i < 15'000; ++i) check(near_valid(rng), "near-valid");
  for (int i = 0; i < 15'000; ++i) check(valid_duration(rng), "valid");
  // The forms the samples document, with the value they must give.
  for (int i = 0; i < 15'000; ++i) {
    std::uint64_t n = rng() % 1'000'000;
    int d = static_cast<int>(rng() % 10);
    std::string text;
    std::int64_t want = 0;
    switch (i % 4) {
      case 0:
        text = std::to_string(n) + "ms";
        want = static_cast<std::int64_t>(n);
        break;
      case 1:
        text = std::to_string(n) + "s";
        want = static_cast<std::int64_t>(n) * 1000;
        break;
      case 2:
        text = std::to_string(n) + "." + std::to_string(d) + "s";
        want = static_cast<std::int64_t>(n) * 1000 + d * 100;
        break;
      default:
        text = std::to_string(n) + "m";
        want = static_cast<std::int64_t>(n) * 60'000;
        break;
    }
    try {
      std::int64_t got = samples::parse_duration(text).count();
      if (got != want && ++failures <= 10) {
        ADD_FAILURE() << "'" << text << "' gave " << got << " ms, expected " << want;
      }
    } catch (const std::exception& e) {
      if (++failures <= 10) ADD_FAILURE() << "'" << text << "' threw: " << e.what();
    }
  }
  EXPECT_EQ(failures, 0) << "seed " << seed;
}

TEST(Fuzz, CsvFieldRoundTripsThroughAnRfc4180Parser) {
  const std::uint32_t seed = fuzz_seed();
  std::cout << "[ fuzz seed ] " << seed << " (replay with RSPARALLEL_FUZZ_SEED=" << seed << ")\n";
  std::mt19937 rng(seed);
  int failures = 0;
  for (int i = 0; i < 15'000; ++i) {
    std::string text = random_field(rng);
    std::string field = rsp::detail::csv_field(text);
    bool needs_quotes = text.find_first_of(",\"\r\n") != std::string::npos;
    std::string problem;
    try {
      std::vector<std::string> parsed = parse_record(field + "\r\n");
      if (parsed.size() != 1) {
        problem = "parsed as " + std::to_string(parsed.size()) + " fields";
      } else if (parsed[0] != text) {
        problem = "parsed back as '" + printable(parsed[0]) + "'";
      } else if (!needs_quotes && field != text) {
        problem = "quoted without need";
      }
    } catch (const CsvError& e) {
      problem = std::string("not RFC 4180: ") + e.what();
    }
    if (!problem.empty() && ++failures <= 10) {
      ADD_FAILURE() << "csv_field('" << printable(text) << "') = '" << printable(field)
                    << "': " << problem << " (seed " << seed << ")";
    }
  }
  EXPECT_EQ(failures, 0) << "seed " << seed;
}

// The errors and warnings columns hold their texts as one CSV record each; an empty text is a field
// like any other, so ["", "boom"] must not read back as "boom" (one error) in the log.
TEST(Fuzz, CsvRowKeepsEmptyMessages) {
  rsp::ReceivedJob job;
  job.id = 7;
  job.name = "n";
  job.state = rsp::JobState::Completed;
  job.errors = {rsp::ErrorRecord{.message = ""}, rsp::ErrorRecord{.message = "boom"}};
  job.warnings = {"", "", "careful"};
  std::vector<std::string> fields = parse_record(rsp::detail::csv_row(job, "r"));
  ASSERT_EQ(fields.size(), 12u);
  EXPECT_EQ(list_of(fields[9]), (std::vector<std::string>{"", "boom"}));
  EXPECT_EQ(list_of(fields[10]), (std::vector<std::string>{"", "", "careful"}));
  job.errors = {rsp::ErrorRecord{.message = ""}};
  fields = parse_record(rsp::detail::csv_row(job, "r"));
  ASSERT_EQ(fields.size(), 12u);
  EXPECT_EQ(list_of(fields[9]), std::vector<std::string>{""});
}

TEST(Fuzz, CsvRowOfRandomJobsHasTwelveFields) {
  const std::uint32_t seed = fuzz_seed();
  std::cout << "[ fuzz seed ] " << seed << " (replay with RSPARALLEL_FUZZ_SEED=" << seed << ")\n";
  std::mt19937 rng(seed);
  const rsp::JobState states[] = {rsp::JobState::NotStarted, rsp::JobState::Running,
                                  rsp::JobState::Completed,  rsp::JobState::Failed,
                                  rsp::JobState::Stopped,    rsp::JobState::TimedOut};
  int failures = 0;
  for (int i = 0; i < 5'000; ++i) {
    rsp::ReceivedJob job;
    job.id = rng();
    job.name = random_field(rng);
    job.state = states[rng() % 6];
    job.input_index = rng() % 100'000;
    if (rng() % 2 == 0) {
      job.queued = std::chrono::system_clock::now();
      job.started = job.queued + std::chrono::milliseconds(rng() % 1000);
      job.finished = job.started + std::chrono::milliseconds(rng() % 1000);
      job.duration = job.finished - job.started;
    }
    std::vector<std::string> messages, warnings;
    // Non-empty texts: CsvRowKeepsEmptyMessages covers empty ones.
    for (std::size_t n = rng() % 4; n > 0; --n) {
      messages.push_back("e" + random_field(rng));
      job.errors.push_back(rsp::ErrorRecord{.message = messages.back(), .type = "t"});
    }
    for (std::size_t n = rng() % 4; n > 0; --n) warnings.push_back("w" + random_field(rng));
    job.warnings = warnings;

    std::string row = rsp::detail::csv_row(job, "run-" + std::to_string(i));
    std::string problem;
    try {
      std::vector<std::string> fields = parse_record(row);
      if (fields.size() != 12) {
        problem = std::to_string(fields.size()) + " fields";
      } else if (fields[0] != std::to_string(job.id)) {
        problem = "id '" + fields[0] + "'";
      } else if (fields[1] != job.name) {
        problem = "name '" + printable(fields[1]) + "'";
      } else if (fields[2] != rsp::to_string(job.state)) {
        problem = "state '" + fields[2] + "'";
      } else if (fields[3] != std::to_string(job.input_index)) {
        problem = "input_index '" + fields[3] + "'";
      } else if (fields[8] != (job.errors.empty() ? "false" : "true")) {
        problem = "had_errors '" + fields[8] + "'";
      } else if (list_of(fields[9]) != messages) {
        problem = "errors '" + printable(fields[9]) + "'";
      } else if (list_of(fields[10]) != warnings) {
        problem = "warnings '" + printable(fields[10]) + "'";
      } else if (fields[11] != "run-" + std::to_string(i)) {
        problem = "run '" + fields[11] + "'";
      }
    } catch (const CsvError& e) {
      problem = std::string("not RFC 4180: ") + e.what();
    }
    if (!problem.empty() && ++failures <= 10) {
      ADD_FAILURE() << "csv_row of job " << job.id << " name '" << printable(job.name)
                    << "': " << problem << "; row '" << printable(row) << "' (seed " << seed << ")";
    }
  }
  EXPECT_EQ(failures, 0) << "seed " << seed;
}
