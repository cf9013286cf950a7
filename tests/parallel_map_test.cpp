// rsp::parallel_map: one typed Result per input, in input order, whatever happened to it.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/thread/thread.hpp>
#include <chrono>
#include <memory>
#include <ranges>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include <rsparallel/parallel_map.hpp>
#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::scaled;

namespace {

bool finished_as_expected(rsp::JobState state) {
  return state == rsp::JobState::Completed || state == rsp::JobState::Stopped;
}

}  // namespace

TEST(ParallelMap, OneResultPerInputInInputOrder) {
  std::vector<rsp::Result<long>> results =
      rsp::parallel_map(std::views::iota(0, 10'000), [](int x) { return 2L * x; });
  ASSERT_EQ(results.size(), 10'000u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i;
    EXPECT_EQ(*results[i], 2L * static_cast<long>(i));
    EXPECT_EQ(results[i].input_index, i);
    EXPECT_TRUE(results[i].errors.empty());
  }
  // The result type is the script's return type, decayed.
  static_assert(std::is_same_v<decltype(results), std::vector<rsp::Result<long>>>);
  auto texts = rsp::parallel_map({std::string("a"), std::string("b")},
                                 [](const std::string& s) -> const std::string& { return s; });
  static_assert(std::is_same_v<decltype(texts), std::vector<rsp::Result<std::string>>>);
  EXPECT_EQ(*texts[1], "b");
  EXPECT_TRUE(rsp::parallel_map(std::vector<int>{}, [](int x) { return x; }).empty());
}

// A throw makes only its own input Failed; its slice-mates (automatic slices of 10) go on.
TEST(ParallelMap, ThrowFailsOnlyItsInputAndTheSliceGoesOn) {
  auto results = rsp::parallel_map(std::views::iota(0, 100), [](int x) {
    if (x == 37) throw std::runtime_error("no 37");
    return x;
  });
  ASSERT_EQ(results.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    if (i == 37) continue;
    EXPECT_EQ(results[i].state, rsp::JobState::Completed) << i;
    EXPECT_EQ(*results[i], i);
  }
  const rsp::Result<int>& failed = results[37];
  EXPECT_EQ(failed.state, rsp::JobState::Failed);
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(failed.value.has_value());
  ASSERT_EQ(failed.errors.size(), 1u);
  EXPECT_EQ(failed.errors[0].message, "no 37");
  EXPECT_NE(failed.errors[0].type.find("runtime_error"), std::string::npos);
  ASSERT_TRUE(failed.errors[0].exception);
  EXPECT_THROW(std::rethrow_exception(failed.errors[0].exception), std::runtime_error);
  try {
    (void)*failed;
    FAIL() << "operator* of a failed input returned";
  } catch (const rsp::JobFailed& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("input 37"), std::string::npos) << what;
    EXPECT_NE(what.find("Failed"), std::string::npos) << what;
    EXPECT_NE(what.find("no 37"), std::string::npos) << what;
  }
}

// With a timeout each input is its own job, so the timeout is that input's alone.
TEST(ParallelMap, TimeoutIsPerInput) {
  const std::chrono::milliseconds timeout = scaled(300ms);
  auto results = rsp::parallel_map(std::views::iota(0, 12),
                                   [](int x) {
                                     if (x == 5)
                                       boost::this_thread::sleep_for(boost::chrono::seconds(20));
                                     return x;
                                   },
                                   {.timeout = timeout, .max_running = 2});
  ASSERT_EQ(results.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    if (i == 5) continue;
    EXPECT_TRUE(results[i].ok()) << i;
  }
  EXPECT_EQ(results[5].state, rsp::JobState::TimedOut);
  ASSERT_FALSE(results[5].errors.empty());
  EXPECT_NE(results[5].errors.back().message.find("timed out after"), std::string::npos);
  EXPECT_THROW((void)*results[5], rsp::JobFailed);

  // A slice above 1 would make the timeout the slice's: refused, naming the option.
  try {
    rsp::parallel_map(std::views::iota(0, 4), [](int x) { return x; },
                      {.timeout = 1s, .slice_size = 2});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ParallelOptions::slice_size"), std::string::npos);
  }
}

// A void script gives Result<std::monostate>: the outcome without a value to carry.
TEST(ParallelMap, VoidScriptGivesMonostateResults) {
  std::atomic<int> sum{0};
  auto results = rsp::parallel_map(std::vector<int>{1, 2, 3, 4}, [&sum](int x) {
    if (x == 3) throw std::logic_error("three");
    sum += x;
  });
  static_assert(std::is_same_v<decltype(results), std::vector<rsp::Result<std::monostate>>>);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok() && results[0].value.has_value());
  EXPECT_EQ(results[2].state, rsp::JobState::Failed);
  EXPECT_EQ(sum.load(), 7);
}

// A script taking JobContext& runs one input per job by default, so what it writes with
// write_error is its input's alone; a write_error leaves the input Completed.
TEST(ParallelMap, WrittenErrorsBelongToTheirInput) {
  auto results = rsp::parallel_map(std::views::iota(0, 20), [](int x, rsp::JobContext& ctx) {
    if (x % 7 == 3) ctx.write_error("soft " + std::to_string(x));
    return x;
  });
  ASSERT_EQ(results.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(results[i].ok()) << i;
    if (i % 7 == 3) {
      ASSERT_EQ(results[i].errors.size(), 1u) << i;
      EXPECT_EQ(results[i].errors[0].message, "soft " + std::to_string(i));
      EXPECT_EQ(results[i].errors[0].type, "rsp::WriteError");
    } else {
      EXPECT_TRUE(results[i].errors.empty()) << i;
    }
  }
}

// A range of unknown size (a stream) is read lazily and still gives one Result per input.
TEST(ParallelMap, UnsizedRange) {
  std::ostringstream text;
  for (int i = 0; i < 500; ++i) text << i << ' ';
  std::istringstream in(text.str());
  auto results = rsp::parallel_map(std::views::istream<int>(in), [](int x) {
    if (x == 250) throw std::runtime_error("bad line");
    return x + 1;
  });
  ASSERT_EQ(results.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(results[i].input_index, static_cast<std::size_t>(i));
    if (i == 250) {
      EXPECT_EQ(results[i].state, rsp::JobState::Failed);
    } else {
      EXPECT_EQ(*results[i], i + 1);
    }
  }
}

// Cancelling from another thread mid-way: the call returns quickly, with a Result for every
// input, each Completed or Stopped, and at least one Stopped.
TEST(ParallelMap, StopTokenCancelsMidwayEveryInputAccountedFor) {
  constexpr int kInputs = 2'000;
  std::stop_source cancel;
  std::atomic<int> ran{0};
  std::thread canceller([&] {
    while (ran.load() < 20) std::this_thread::sleep_for(1ms);
    cancel.request_stop();
  });
  auto started = rsp_test::Clock::now();
  auto results = rsp::parallel_map(
      std::views::iota(0, kInputs),
      [&ran](int x) {
        ++ran;
        boost::this_thread::sleep_for(boost::chrono::milliseconds(2));  // a stop interrupts it
        return x;
      },
      {.max_running = 2, .stop_grace = 100ms, .stop = cancel.get_token()});
  auto took = rsp_test::Clock::now() - started;
  canceller.join();
  EXPECT_LT(took, scaled(2s));
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kInputs));
  std::size_t stopped = 0, completed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].input_index, i);
    EXPECT_TRUE(finished_as_expected(results[i].state)) << i;
    if (results[i].state == rsp::JobState::Stopped) ++stopped;
    if (results[i].ok()) {
      ++completed;
      EXPECT_EQ(*results[i], static_cast<int>(i));
    }
  }
  EXPECT_GE(stopped, 1u);
  EXPECT_GE(completed, 1u);
  EXPECT_LT(completed, static_cast<std::size_t>(kInputs));
}

// A slice whose script ignores the stop is abandoned after stop_grace and finishes after the
// call returned: it writes only into its own slice's storage, never into the returned vector.
TEST(ParallelMap, AbandonedSliceNeverWritesIntoTheResult) {
  auto started = std::make_shared<std::atomic<bool>>(false);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::stop_source cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(scaled(50ms));
    cancel.request_stop();
  });
  auto results = rsp::parallel_map(
      std::views::iota(0, 8),
      [started, finished](int x) {
        if (x == 0) {
          started->store(true);
          std::this_thread::sleep_for(scaled(300ms));  // ignores the stop
          finished->store(true);
        }
        return std::string(100, static_cast<char>('a' + x));
      },
      {.slice_size = 4, .max_running = 1, .stop_grace = 20ms, .stop = cancel.get_token()});
  canceller.join();
  ASSERT_EQ(results.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(results[i].state, rsp::JobState::Stopped) << i;
    EXPECT_FALSE(results[i].value.has_value()) << i;
  }
  EXPECT_FALSE(finished->load());
  results.clear();
  results.shrink_to_fit();
  // Unless the stop came before its job started, the abandoned script finishes later.
  while (started->load() && !finished->load()) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(20ms);  // it publishes its first Result, then sees the stop
}

// 100,000 inputs, sliced automatically (316 per job), with a throwing input among its
// slice-mates; then the same with a timeout, where one input times out and one throws.
TEST(ParallelMap, HundredThousandInputsWithAThrowAndATimeout) {
  constexpr int kInputs = 100'000;
  auto sliced = rsp::parallel_map(std::views::iota(0, kInputs), [](int x) {
    if (x == 50'001) throw std::runtime_error("bad input");
    return x % 1000;
  });
  ASSERT_EQ(sliced.size(), static_cast<std::size_t>(kInputs));
  for (int i = 0; i < kInputs; ++i) {
    if (i == 50'001) {
      ASSERT_EQ(sliced[i].state, rsp::JobState::Failed);
      continue;
    }
    ASSERT_TRUE(sliced[i].ok()) << i;
    ASSERT_EQ(*sliced[i], i % 1000) << i;
  }

  const std::chrono::milliseconds timeout = scaled(500ms);
  auto timed = rsp::parallel_map(std::views::iota(0, kInputs),
                                 [](int x) {
                                   if (x == 777) throw std::runtime_error("bad input");
                                   if (x == 60'000)
                                     boost::this_thread::sleep_for(boost::chrono::seconds(30));
                                   return x;
                                 },
                                 {.timeout = timeout});
  ASSERT_EQ(timed.size(), static_cast<std::size_t>(kInputs));
  for (int i = 0; i < kInputs; ++i) {
    if (i == 777) {
      ASSERT_EQ(timed[i].state, rsp::JobState::Failed);
    } else if (i == 60'000) {
      ASSERT_EQ(timed[i].state, rsp::JobState::TimedOut);
      ASSERT_FALSE(timed[i].errors.empty());
      EXPECT_NE(timed[i].errors.back().message.find("timed out after"), std::string::npos);
    } else {
      ASSERT_TRUE(timed[i].ok()) << i;
      ASSERT_EQ(*timed[i], i);
    }
  }
}

// A token stopped before the call runs nothing: every input is Stopped.
TEST(ParallelMap, StopTokenAlreadyStoppedRunsNothing) {
  std::stop_source cancel;
  cancel.request_stop();
  std::atomic<int> ran{0};
  auto results = rsp::parallel_map(std::views::iota(0, 30), [&ran](int x) { return ++ran + x; },
                                   {.stop = cancel.get_token()});
  ASSERT_EQ(results.size(), 30u);
  for (const auto& result : results) EXPECT_EQ(result.state, rsp::JobState::Stopped);
  EXPECT_EQ(ran.load(), 0);
}

// On a given pool: the call's jobs are received and cleared; the pool is left as it was.
TEST(ParallelMap, GivenPoolIsLeftEmpty) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto results = rsp::parallel_map(std::views::iota(0, 1000), [](int x) { return x; },
                                   {.name = "mine", .pool = pool});
  ASSERT_EQ(results.size(), 1000u);
  EXPECT_EQ(*results[999], 999);
  EXPECT_EQ(pool->registry().size(), 0u);
}
