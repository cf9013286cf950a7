// Values crossing to worker processes: what crosses as it is, what a registration lets cross,
// and that anything else is refused with the type's name rather than garbled or dropped.
#include "rsparallel/crossing.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "process/value_codec.hpp"

namespace {

using rsp::process::decode_value;
using rsp::process::encode_value;

struct Point {
  double x = 0, y = 0;
  bool operator==(const Point&) const = default;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& x& y;
  }
};
const bool point_crosses = rsp::register_type<Point>();

struct Opaque {
  int secret = 0;
};

template <class T>
T round_trip(const T& value) {
  std::any back = decode_value(encode_value(std::any(value)));
  EXPECT_EQ(back.type(), typeid(T));
  return std::any_cast<T>(back);
}

TEST(Crossing, BuiltInTypesRoundTrip) {
  EXPECT_EQ(round_trip(std::string("h\0llo", 5)), std::string("h\0llo", 5));
  EXPECT_EQ(round_trip(true), true);
  EXPECT_EQ(round_trip('c'), 'c');
  EXPECT_EQ(round_trip(-7), -7);
  EXPECT_EQ(round_trip(18446744073709551615ull), 18446744073709551615ull);
  EXPECT_EQ(round_trip(2.5f), 2.5f);
  EXPECT_EQ(round_trip(1e300), 1e300);
  EXPECT_EQ(round_trip(3.25L), 3.25L);
  EXPECT_EQ(round_trip(u'x'), u'x');
  EXPECT_EQ(round_trip(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(round_trip(std::vector<std::string>{"a", ""}), (std::vector<std::string>{"a", ""}));
  using Counts = std::map<std::string, long long>;
  EXPECT_EQ(round_trip(Counts{{"x", 1}, {"y", -2}}), (Counts{{"x", 1}, {"y", -2}}));
  using Names = std::map<int, std::string>;
  EXPECT_EQ(round_trip(Names{{1, "one"}}), (Names{{1, "one"}}));
}

TEST(Crossing, CStringCrossesAsString) {
  std::any back = decode_value(encode_value(std::any("text")));
  EXPECT_EQ(std::any_cast<std::string>(back), "text");
}

TEST(Crossing, EmptyAnyCrossesEmpty) {
  EXPECT_FALSE(decode_value(encode_value(std::any())).has_value());
}

TEST(Crossing, RegisteredUserTypeRoundTrips) {
  ASSERT_TRUE(point_crosses);
  EXPECT_TRUE(rsp::can_cross(typeid(Point)));
  EXPECT_EQ(round_trip(Point{1.5, -2}), (Point{1.5, -2}));
  EXPECT_TRUE(rsp::register_type<Point>());  // again: harmless
  EXPECT_EQ(round_trip(Point{3, 4}), (Point{3, 4}));
}

TEST(Crossing, UnregisteredTypeIsRefusedByName) {
  EXPECT_FALSE(rsp::can_cross(typeid(Opaque)));
  try {
    encode_value(std::any(Opaque{1}));
    FAIL() << "an unregistered type was encoded";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("Opaque"), std::string::npos) << what;
    EXPECT_NE(what.find("register_type"), std::string::npos) << what;
  }
}

TEST(Crossing, UnknownTypeKeyOnDecodeIsRefusedByName) {
  // What a worker that did not register a type would receive.
  std::ostringstream bytes;
  bytes.put('\0');  // an archived value, not a plain one
  {
    boost::archive::binary_oarchive out(bytes, rsp::detail::kCrossingArchiveFlags);
    std::string key = typeid(Opaque).name();
    out << key;
  }
  try {
    decode_value(bytes.str());
    FAIL() << "a value of an unregistered type was decoded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Opaque"), std::string::npos) << e.what();
  }
}

TEST(Crossing, CorruptBytesAreAnInvalidArgument) {
  std::string bytes = encode_value(std::any(std::vector<int>{1, 2, 3}));
  EXPECT_THROW(decode_value(bytes.substr(0, bytes.size() - 3)), std::invalid_argument);
  EXPECT_THROW(decode_value("garbage"), std::invalid_argument);
}

TEST(Crossing, PlainBytesThatDoNotFitAreAnInvalidArgument) {
  // Scalars and strings cross as their bytes: a short or long value is refused, not misread.
  std::string bytes = encode_value(std::any(123456789LL));
  EXPECT_THROW(decode_value(bytes.substr(0, bytes.size() - 1)), std::invalid_argument);
  EXPECT_THROW(decode_value(bytes + "x"), std::invalid_argument);
  EXPECT_THROW(decode_value(std::string(1, '\x7f')), std::invalid_argument);  // no such tag
  std::vector<int> numbers{1, -2, 3};
  std::string inputs = rsp::detail::encode_inputs<int>(numbers);
  EXPECT_EQ(rsp::detail::decode_inputs<int>(inputs, 3), numbers);
  EXPECT_THROW(rsp::detail::decode_inputs<int>(inputs, 4), std::invalid_argument);
  EXPECT_THROW(rsp::detail::decode_inputs<int>(inputs, 2), std::invalid_argument);
}

TEST(Crossing, TypedInputsRoundTripInOrder) {
  std::vector<Point> points{{1, 2}, {3, 4}, {5, 6}};
  std::string bytes = rsp::detail::encode_inputs<Point>(points);
  EXPECT_EQ(rsp::detail::decode_inputs<Point>(bytes, 3), points);
  std::vector<std::string> words{"a", "bb", ""};
  EXPECT_EQ(
      rsp::detail::decode_inputs<std::string>(rsp::detail::encode_inputs<std::string>(words), 3),
      words);
}

}  // namespace
