// Scenarios a user of the PowerShell modules would run first.
#include <gtest/gtest.h>

#include <numeric>
#include <ranges>
#include <span>

#include <rsparallel/rsparallel.hpp>

using namespace std::chrono_literals;

// 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10
TEST(Scenario, OneJobPerItemTenRunning) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 10});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(1, 11),
                                              [](int i) { return i * 10; },
                                              {.name = "tens", .max_running = 10});
  EXPECT_TRUE(batch.wait_for(10s));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true});
  ASSERT_EQ(jobs.size(), 10u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[i].name, "tens");
    EXPECT_EQ(jobs[i].input_index, i);
    EXPECT_EQ(jobs[i].output_as<int>(), std::vector<int>{static_cast<int>(i + 1) * 10});
  }
  EXPECT_EQ(pool->registry().size(), 0u);
}

// The $args form: each job gets its slice.
TEST(Scenario, SlicesHandedToOneJobAsArgs) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  rsp::new_runspace_job(*pool, std::views::iota(1, 11),
                        [](std::span<const int> args) {
                          return std::accumulate(args.begin(), args.end(), 0);
                        },
                        {.slice_size = 3});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true});
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{6, 15, 24, 10}));
  EXPECT_EQ(jobs[3].input_index, 9u);
  EXPECT_EQ(jobs[3].input_count, 1u);
}
