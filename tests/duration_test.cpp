// samples/duration.hpp: the --timeout parser of the sample programs.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "../samples/duration.hpp"

using namespace std::chrono_literals;
using samples::parse_duration;

TEST(Duration, UnitsGiveMilliseconds) {
  EXPECT_EQ(parse_duration("200ms"), 200ms);
  EXPECT_EQ(parse_duration("5s"), 5000ms);
  EXPECT_EQ(parse_duration("2m"), 120'000ms);
  EXPECT_EQ(parse_duration("1h"), 3'600'000ms);
  EXPECT_EQ(parse_duration("0ms"), 0ms);
  EXPECT_EQ(parse_duration("007s"), 7000ms);
}

TEST(Duration, BareNumberIsSeconds) {
  // As GNU parallel's --timeout reads it.
  EXPECT_EQ(parse_duration("250"), 250'000ms);
  EXPECT_EQ(parse_duration("0"), 0ms);
  EXPECT_EQ(parse_duration("1.5"), 1500ms);
}

TEST(Duration, FractionsAreExactOrRoundedUp) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0.25m"), 15'000ms);
  EXPECT_EQ(parse_duration("0.001s"), 1ms);
  EXPECT_EQ(parse_duration("2.5ms"), 3ms);    // up, never down
  EXPECT_EQ(parse_duration("0.0001s"), 1ms);  // a positive duration never becomes 0 (no limit)
  EXPECT_EQ(parse_duration("1.0000000001s"), 1001ms);  // a digit past the ninth still counts
  EXPECT_EQ(parse_duration("1.000000000000s"), 1000ms);
  EXPECT_EQ(parse_duration("0.5h"), 1'800'000ms);
}

TEST(Duration, LargestValuesAndOverflow) {
  const auto max = std::chrono::milliseconds::max();
  EXPECT_EQ(parse_duration(std::to_string(max.count()) + "ms"), max);
  EXPECT_THROW(parse_duration("9223372036854775808ms"), std::invalid_argument);  // max + 1
  EXPECT_THROW(parse_duration("99999999999999999999999ms"), std::invalid_argument);
  EXPECT_THROW(parse_duration("9223372036854776s"), std::invalid_argument);  // * 1000 overflows
  EXPECT_THROW(parse_duration("2562047788016h"), std::invalid_argument);
  EXPECT_EQ(parse_duration("2562047788015h"), 2562047788015 * 3'600'000ms);
  EXPECT_THROW(parse_duration("9223372036854775807.5ms"),
               std::invalid_argument);  // fraction tips it
}

TEST(Duration, RejectsGarbageNamingTheText) {
  for (const char* text :
       {"",    "-1s", "-0",     "+5s",  "abc", "5x",   "5 s",   " 5s",  "5s ",  "s",   "ms",
        ".5s", "5.s", "1.5.2s", "1e3s", "5S",  "5sec", "0x10s", "1,5s", "5m5s", "inf", "nan"}) {
    try {
      parse_duration(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(text) + "'"), std::string::npos)
          << "the message does not name the text: " << e.what();
    }
  }
}

TEST(Duration, NegativeAndEmptySayWhy) {
  try {
    parse_duration("-5s");
    FAIL() << "accepted a negative duration";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
  try {
    parse_duration("");
    FAIL() << "accepted an empty text";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}
