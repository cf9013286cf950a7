// rsp::ParallelOptions::stop and stop_grace: cancelling an invoke_parallel call, and how long a
// job ignoring its stop may hold it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/thread/thread.hpp>
#include <chrono>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::scaled;

TEST(InvokeParallelStop, NegativeStopGraceRejectedNamingTheField) {
  std::atomic<int> ran{0};
  try {
    rsp::invoke_parallel(std::vector<int>{1, 2}, [&ran](int i) { return ++ran + i; },
                         {.stop_grace = -1ms});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("ParallelOptions::stop_grace"), std::string::npos) << what;
    EXPECT_NE(what.find("-1"), std::string::npos) << what;
  }
  EXPECT_EQ(ran.load(), 0);
}

// A job ignoring its timeout holds the call only for stop_grace (the call's own pool waits that
// long for it on destruction), not for the pool default of 1 s.
TEST(InvokeParallelStop, StopGraceBoundsTheWaitForAJobIgnoringItsTimeout) {
  auto released = std::make_shared<std::atomic<bool>>(false);
  auto started = rsp_test::Clock::now();
  auto jobs = rsp::invoke_parallel(std::vector<int>{0},
                                   [released](int i) {
                                     // Not interruptible and no stop check: it ignores the stop
                                     // until released.
                                     for (int k = 0; k < 3000 && !released->load(); ++k)
                                       std::this_thread::sleep_for(1ms);
                                     return i;
                                   },
                                   {.timeout = 100ms, .stop_grace = 50ms});
  auto took = rsp_test::Clock::now() - started;
  released->store(true);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, std::min<rsp_test::Clock::duration>(scaled(700ms), 1050ms));
}

// Cancelling from another thread: the call returns quickly, with a job (real or, for inputs
// never fed, id 0) covering every input, each Completed or Stopped.
TEST(InvokeParallelStop, StopTokenCancelsMidwayEveryInputAccountedFor) {
  constexpr int kInputs = 400;
  std::stop_source cancel;
  std::atomic<int> ran{0};
  std::thread canceller([&] {
    while (ran.load() < 10) std::this_thread::sleep_for(1ms);
    cancel.request_stop();
  });
  auto started = rsp_test::Clock::now();
  auto jobs = rsp::invoke_parallel(
      std::views::iota(0, kInputs),
      [&ran](int i) {
        ++ran;
        boost::this_thread::sleep_for(boost::chrono::milliseconds(5));  // a stop interrupts it
        return i;
      },
      {.max_running = 2, .stop_grace = 100ms, .stop = cancel.get_token()});
  auto took = rsp_test::Clock::now() - started;
  canceller.join();
  EXPECT_LT(took, scaled(2s));
  std::size_t covered = 0, stopped = 0, completed = 0, never_created = 0;
  for (const rsp::ReceivedJob& job : jobs) {
    EXPECT_EQ(job.input_index, covered);
    covered += job.input_count;
    EXPECT_TRUE(job.state == rsp::JobState::Completed || job.state == rsp::JobState::Stopped)
        << rsp::to_string(job.state);
    if (job.state == rsp::JobState::Stopped) ++stopped;
    if (job.state == rsp::JobState::Completed) {
      ++completed;
      EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index)});
    }
    if (job.id == 0) ++never_created;
  }
  EXPECT_EQ(covered, static_cast<std::size_t>(kInputs));
  EXPECT_GE(stopped, 1u);
  EXPECT_GE(completed, 1u);
  EXPECT_GE(never_created, 1u);  // 400 inputs, max_queue 6: most were never read
}

// A token stopped before the call: nothing runs, every input is reported Stopped.
TEST(InvokeParallelStop, StopTokenAlreadyStoppedRunsNothing) {
  std::stop_source cancel;
  cancel.request_stop();
  std::atomic<int> ran{0};
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 50), [&ran](int i) { return ++ran + i; },
                                   {.slice_size = 7, .stop = cancel.get_token()});
  std::size_t covered = 0;
  for (const rsp::ReceivedJob& job : jobs) {
    EXPECT_EQ(job.input_index, covered);
    EXPECT_EQ(job.state, rsp::JobState::Stopped);
    covered += job.input_count;
  }
  EXPECT_EQ(covered, 50u);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_THROW((void)rsp::outputs_as<int>(jobs), rsp::JobFailed);
}
