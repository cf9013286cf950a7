// Unit tests of include/rsparallel/job.hpp: job states, ReceivedJob accessors, outputs_as and
// type_name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

rsp::ReceivedJob make_job(rsp::JobId id, std::string name, std::vector<std::any> output) {
  rsp::ReceivedJob job;
  job.id = id;
  job.name = std::move(name);
  job.state = rsp::JobState::Completed;
  job.output = std::move(output);
  return job;
}

struct Point {
  int x = 0;
  int y = 0;
  bool operator==(const Point&) const = default;
};

}  // namespace

TEST(Job, ToStringNamesEveryState) {
  const std::map<rsp::JobState, std::string> expected = {
      {rsp::JobState::NotStarted, "NotStarted"}, {rsp::JobState::Running, "Running"},
      {rsp::JobState::Completed, "Completed"},   {rsp::JobState::Failed, "Failed"},
      {rsp::JobState::Stopped, "Stopped"},       {rsp::JobState::TimedOut, "TimedOut"},
  };
  for (const auto& [state, text] : expected) EXPECT_EQ(rsp::to_string(state), text);
}

TEST(Job, StreamInsertionWritesTheName) {
  const rsp::JobState all[] = {rsp::JobState::NotStarted, rsp::JobState::Running,
                               rsp::JobState::Completed,  rsp::JobState::Failed,
                               rsp::JobState::Stopped,    rsp::JobState::TimedOut};
  for (rsp::JobState state : all) {
    std::ostringstream out;
    out << state;
    EXPECT_EQ(out.str(), rsp::to_string(state));
  }
  // Width and fill apply to the whole name, as for a string.
  std::ostringstream padded;
  padded << '[' << std::setw(10) << std::left << rsp::JobState::Failed << ']' << std::setw(4)
         << std::right << std::setfill('.') << rsp::JobState::Running;
  EXPECT_EQ(padded.str(), "[Failed    ]Running");
  // What a failing EXPECT_EQ(job.state, ...) prints.
  EXPECT_EQ(::testing::PrintToString(rsp::JobState::TimedOut), "TimedOut");
}

#if __has_include(<format>) && defined(__cpp_lib_format)
TEST(Job, FormatWritesTheName) {
  EXPECT_EQ(std::format("{}", rsp::JobState::Completed), "Completed");
  EXPECT_EQ(std::format("[{:>9}]", rsp::JobState::Stopped), "[  Stopped]");
  EXPECT_EQ(std::format("{:.4}", rsp::JobState::NotStarted), "NotS");
}
#else
TEST(Job, FormatWritesTheName) {
  GTEST_SKIP() << "this standard library has no <format>; std::formatter<rsp::JobState> is "
                  "compiled away";
}
#endif

TEST(Job, IsFinishedOnlyForFinalStates) {
  static_assert(!rsp::is_finished(rsp::JobState::NotStarted));
  static_assert(rsp::is_finished(rsp::JobState::Completed));
  EXPECT_FALSE(rsp::is_finished(rsp::JobState::NotStarted));
  EXPECT_FALSE(rsp::is_finished(rsp::JobState::Running));
  EXPECT_TRUE(rsp::is_finished(rsp::JobState::Completed));
  EXPECT_TRUE(rsp::is_finished(rsp::JobState::Failed));
  EXPECT_TRUE(rsp::is_finished(rsp::JobState::Stopped));
  EXPECT_TRUE(rsp::is_finished(rsp::JobState::TimedOut));
}

TEST(Job, HadErrorsFollowsTheErrorRecords) {
  rsp::ReceivedJob job = make_job(1, "j", {});
  EXPECT_FALSE(job.had_errors());
  job.warnings.push_back("only a warning");
  EXPECT_FALSE(job.had_errors());
  job.errors.push_back(rsp::ErrorRecord{"bad", "rsp::WriteError", nullptr});
  EXPECT_TRUE(job.had_errors());
}

TEST(Job, DefaultReceivedJobIsEmpty) {
  rsp::ReceivedJob job;
  EXPECT_EQ(job.id, 0u);
  EXPECT_EQ(job.state, rsp::JobState::NotStarted);
  EXPECT_EQ(job.duration, 0ns);
  EXPECT_FALSE(job.progress.has_value());
  EXPECT_TRUE(job.output_as<int>().empty());
}

TEST(Job, OutputAsReturnsEveryValueInOrder) {
  rsp::ReceivedJob ints = make_job(3, "ints", {std::any(1), std::any(2), std::any(3)});
  EXPECT_EQ(ints.output_as<int>(), (std::vector<int>{1, 2, 3}));

  rsp::ReceivedJob texts =
      make_job(4, "texts", {std::any(std::string("a")), std::any(std::string("bc"))});
  EXPECT_EQ(texts.output_as<std::string>(), (std::vector<std::string>{"a", "bc"}));

  rsp::ReceivedJob points = make_job(5, "points", {std::any(Point{1, 2})});
  EXPECT_EQ(points.output_as<Point>(), (std::vector<Point>{Point{1, 2}}));
}

TEST(Job, OutputAsWrongTypeNamesJobAndBothTypes) {
  rsp::ReceivedJob job = make_job(42, "resize-images", {std::any(std::string("not an int"))});
  try {
    (void)job.output_as<int>();
    FAIL() << "output_as<int> on a std::string output did not throw";
  } catch (const rsp::OutputTypeError& e) {
    std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("42"));
    EXPECT_THAT(what, HasSubstr("resize-images"));
    EXPECT_THAT(what, HasSubstr("int"));
    EXPECT_THAT(what, HasSubstr("std::string"));
    EXPECT_THAT(what, ::testing::Not(HasSubstr("__cxx11")));
  }
}

TEST(Job, OutputAsWrongTypeNamesThePosition) {
  rsp::ReceivedJob job = make_job(7, "mixed", {std::any(1), std::any(2), std::any(2.5)});
  try {
    (void)job.output_as<int>();
    FAIL() << "output_as<int> on a double output did not throw";
  } catch (const rsp::OutputTypeError& e) {
    std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("7"));
    EXPECT_THAT(what, HasSubstr("mixed"));
    EXPECT_THAT(what, HasSubstr("2"));  // the position of the double
    EXPECT_THAT(what, HasSubstr("double"));
    EXPECT_THAT(what, HasSubstr("int"));
  }
}

TEST(Job, OutputTypeErrorIsCatchableAsBadAnyCast) {
  rsp::ReceivedJob job = make_job(9, "x", {std::any(1)});
  EXPECT_THROW((void)job.output_as<std::string>(), std::bad_any_cast);
  bool caught = false;
  try {
    (void)job.output_as<long>();
  } catch (const std::bad_any_cast& e) {
    caught = true;
    // The override of what() survives catching by the base.
    EXPECT_THAT(std::string(e.what()), HasSubstr("long"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("int"));
  }
  EXPECT_TRUE(caught);
}

TEST(Job, OutputsAsFlattensInTheOrderGiven) {
  std::vector<rsp::ReceivedJob> jobs;
  jobs.push_back(make_job(1, "a", {std::any(1), std::any(2)}));
  jobs.push_back(make_job(2, "a", {}));
  jobs.push_back(make_job(3, "a", {std::any(3)}));
  jobs.push_back(make_job(4, "a", {std::any(4), std::any(5), std::any(6)}));
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{1, 2, 3, 4, 5, 6}));

  std::reverse(jobs.begin(), jobs.end());
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{4, 5, 6, 3, 1, 2}));

  EXPECT_TRUE(rsp::outputs_as<int>({}).empty());
}

TEST(Job, OutputsAsWrongTypeNamesTheOffendingJob) {
  std::vector<rsp::ReceivedJob> jobs;
  jobs.push_back(make_job(1, "good", {std::any(1)}));
  jobs.push_back(make_job(2, "bad-one", {std::any(std::string("x"))}));
  try {
    (void)rsp::outputs_as<int>(jobs);
    FAIL() << "outputs_as<int> did not throw";
  } catch (const rsp::OutputTypeError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("bad-one"));
  }
}

TEST(Job, TypeNameIsReadable) {
  EXPECT_EQ(rsp::type_name(typeid(std::string)), "std::string");
  EXPECT_EQ(rsp::type_name(typeid(int)), "int");
  EXPECT_EQ(rsp::type_name(typeid(double)), "double");
  EXPECT_EQ(rsp::type_name(typeid(std::runtime_error)), "std::runtime_error");
  std::string nested = rsp::type_name(typeid(std::vector<std::string>));
  EXPECT_THAT(nested, HasSubstr("std::vector<std::string"));
  EXPECT_THAT(nested, ::testing::Not(HasSubstr("__cxx11")));
  EXPECT_THAT(rsp::type_name(typeid(Point)), HasSubstr("Point"));
}

// The same accessors on jobs a pool really ran: a `const char*` return is a std::string output.
TEST(Job, OutputAsOnRealJobs) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::vector<int>{1, 2, 3},
                        [](int i) { return i == 2 ? "two" : "other"; }, {.name = "words"});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = rsp_test::scaled(10s)});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(rsp::outputs_as<std::string>(jobs),
            (std::vector<std::string>{"other", "two", "other"}));
  for (const auto& job : jobs) {
    EXPECT_TRUE(rsp::is_finished(job.state));
    EXPECT_FALSE(job.had_errors());
    EXPECT_GE(job.finished, job.started);
    EXPECT_GE(job.started, job.queued);
    EXPECT_GE(job.duration, 0ns);
  }
  try {
    (void)jobs[1].output_as<const char*>();
    FAIL() << "a std::string output read as const char* did not throw";
  } catch (const rsp::OutputTypeError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(std::to_string(jobs[1].id)));
    EXPECT_THAT(std::string(e.what()), HasSubstr("words"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("std::string"));
  }
}
