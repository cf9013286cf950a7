#include <gtest/gtest.h>

#include <boost/thread/thread.hpp>
#include <thread>

#include <rsparallel/rsparallel.hpp>

using namespace std::chrono_literals;

TEST(TimeoutSmoke, BoostSleepInterruptedAndNextJobUntouched) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  auto start = std::chrono::steady_clock::now();
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1, 0, 1}, [](int slow, rsp::JobContext& ctx) {
    if (slow == 0) boost::this_thread::sleep_for(boost::chrono::seconds(5));
    boost::this_thread::sleep_for(boost::chrono::milliseconds(20));  // a stale interrupt would fire here
    return ctx.stop_requested();
  }, {.timeout = 300ms});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = 10s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_EQ(jobs[0].errors[0].message, "timed out after 300 ms");
  EXPECT_EQ(jobs[1].state, rsp::JobState::Completed);
  EXPECT_EQ(jobs[1].output_as<bool>(), std::vector<bool>{false});
  EXPECT_EQ(jobs[2].state, rsp::JobState::TimedOut);
  EXPECT_EQ(jobs[3].state, rsp::JobState::Completed);
}

TEST(TimeoutSmoke, StuckJobAbandonedAndReplaced) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = 200ms});
  auto start = std::chrono::steady_clock::now();
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1}, [](int stuck) {
    if (stuck == 0) std::this_thread::sleep_for(3s);  // ignores stops and interrupts
    return stuck;
  }, {.timeout = 100ms});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = 10s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  EXPECT_EQ(jobs[1].state, rsp::JobState::Completed);
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
  EXPECT_EQ(pool->open_runspaces(), 1u);
}

TEST(TimeoutSmoke, PoolDestructionNeverHangs) {
  auto start = std::chrono::steady_clock::now();
  {
    auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .stop_grace = 200ms});
    rsp::new_runspace_job(*pool, std::views::iota(0, 100), [](int) { std::this_thread::sleep_for(2s); });
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}
