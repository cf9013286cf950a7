// Clear-RunspaceJobs: include/rsparallel/clear_jobs.hpp.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/thread/thread.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <ranges>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::DeafUntilReleased;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::OpenOnExit;
using rsp_test::ReleaseOnExit;
using rsp_test::scaled;

namespace {

using Clock = std::chrono::steady_clock;

// A receiver with keep on another thread, only to see the final states of jobs that a clear
// removes (its last progress report counts them by state).
class ProgressWatcher {
 public:
  explicit ProgressWatcher(rsp::RunspacePool& pool)
      : thread_([this, &pool] {
          rsp::receive_runspace_job(pool, {.wait = true,
                                           .timeout = scaled(10s),
                                           .keep = true,
                                           .on_progress = [this](const rsp::Progress& p) {
                                             std::lock_guard lock(mutex_);
                                             last_ = p;
                                             ++reports_;
                                           }});
        }) {}
  ~ProgressWatcher() {
    if (thread_.joinable()) thread_.join();
  }
  /// True once the receiver has reported (so it tracks the batches there are now).
  bool watching() {
    std::lock_guard lock(mutex_);
    return reports_ > 0;
  }
  rsp::Progress finish() {
    thread_.join();
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  std::mutex mutex_;
  rsp::Progress last_;
  int reports_ = 0;
  std::thread thread_;
};

}  // namespace

// Finished jobs go, whether received with keep or never received; received ones are gone already.
TEST(ClearJobs, RemovesFinishedJobsAndReturnsTheCount) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 6), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  rsp::JobId first = pool->registry().next_id() - 6;
  ASSERT_EQ(rsp::receive_runspace_job(*pool, {.id = first}).size(), 1u);  // received: gone
  ASSERT_EQ(rsp::receive_runspace_job(*pool, {.id = first + 1, .keep = true}).size(), 1u);
  EXPECT_EQ(pool->registry().size(), 5u);

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool), 5u);
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_FALSE(pool->registry().state(first + 1).has_value());
  EXPECT_TRUE(rsp::receive_runspace_job(*pool).empty());
  EXPECT_EQ(rsp::clear_runspace_jobs(pool), 0u);
}

TEST(ClearJobs, LeavesUnfinishedJobsAloneWithoutForce) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto quick = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  ASSERT_TRUE(quick.wait_for(scaled(5s)));
  rsp::JobId slow_first = pool->registry().next_id();
  auto slow = rsp::new_runspace_job(*pool, std::views::iota(0, 2),
                                    [gate](int i) {
                                      gate->wait();
                                      return i;
                                    },
                                    {.name = "slow"});
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool), 3u);
  EXPECT_EQ(pool->registry().size(), 2u);
  EXPECT_EQ(pool->registry().state(slow_first), rsp::JobState::Running);
  EXPECT_EQ(pool->registry().state(slow_first + 1), rsp::JobState::Running);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "slow"}), 0u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = slow_first}), 0u);

  gate->open();
  ASSERT_TRUE(slow.wait_for(scaled(5s)));
  // They ran to the end, untouched by the clears.
  auto jobs = rsp::receive_runspace_job(*pool, {.keep = true});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Completed);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool), 2u);
  EXPECT_EQ(pool->registry().size(), 0u);
}

TEST(ClearJobs, ByIdAndByName) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto x =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; }, {.name = "x"});
  ASSERT_TRUE(x.wait_for(scaled(5s)));
  rsp::JobId y_first = pool->registry().next_id();
  auto y =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; }, {.name = "y"});
  ASSERT_TRUE(y.wait_for(scaled(5s)));
  rsp::JobId x_first = y_first - 3;

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = x_first + 1}), 1u);
  EXPECT_FALSE(pool->registry().state(x_first + 1).has_value());
  EXPECT_EQ(pool->registry().state(x_first), rsp::JobState::Completed);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = x_first + 1}), 0u);
  // A name and an id that do not belong together remove nothing.
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "y", .id = x_first}), 0u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "y"}), 3u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "y"}), 0u);
  EXPECT_EQ(pool->registry().size(), 2u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "x", .id = x_first + 2}), 1u);
  auto left = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, x_first);
  EXPECT_EQ(left[0].name, "x");
}

// force stops running jobs: blocked in boost::this_thread::sleep_for, they wake at once and end
// Stopped; clear returns promptly with them removed.
TEST(ClearJobs, ForceStopsRunningJobsAtOnce) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto started = std::make_shared<std::atomic<int>>(0);
  auto woke = std::make_shared<std::atomic<int>>(0);
  auto saw_stop = std::make_shared<std::atomic<int>>(0);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 2), [=](int, rsp::JobContext& ctx) {
    ++*started;
    try {
      boost::this_thread::sleep_for(boost::chrono::seconds(10));
    } catch (const boost::thread_interrupted&) {
      ++*woke;
      if (ctx.stop_requested()) ++*saw_stop;
      throw;
    }
  });
  ASSERT_TRUE(eventually([&] { return started->load() == 2; }));
  ProgressWatcher watcher(*pool);
  ASSERT_TRUE(eventually([&] { return watcher.watching(); }));

  auto start = Clock::now();
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.force = true}), 2u);
  EXPECT_LT(Clock::now() - start, scaled(1500ms));
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_TRUE(eventually([&] { return woke->load() == 2; }, 1s)) << "not woken by the stop";
  EXPECT_EQ(saw_stop->load(), 2);
  EXPECT_TRUE(batch.wait_for(scaled(2s)));
  rsp::Progress seen = watcher.finish();
  EXPECT_EQ(seen.stopped, 2u);
  EXPECT_EQ(seen.completed + seen.failed + seen.timed_out, 0u);
  EXPECT_TRUE(eventually([&] { return pool->busy_runspaces() == 0; }));
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
}

// force cancels jobs that have not started: they end Stopped and never run.
TEST(ClearJobs, ForceCancelsJobsNotStarted) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 8});
  auto started = std::make_shared<std::atomic<int>>(0);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5), [started](int) {
    ++*started;
    boost::this_thread::sleep_for(boost::chrono::seconds(10));
  });
  ASSERT_TRUE(eventually([&] { return started->load() == 1 && batch.created() == 5; }));
  ProgressWatcher watcher(*pool);
  ASSERT_TRUE(eventually([&] { return watcher.watching(); }));

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.force = true}), 5u);
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_TRUE(batch.wait_for(scaled(2s)));
  rsp::Progress seen = watcher.finish();
  EXPECT_EQ(seen.stopped, 5u);
  EXPECT_EQ(seen.total, 5u);
  pool.reset();  // joins the runspace: nothing of the batch can still start after this
  EXPECT_EQ(started->load(), 1);
}

// force stops feeding the batch: of 1,000,000 inputs only the max_queue read before the clear
// ever become jobs.
TEST(ClearJobs, ForceStopsFeedingTheBatch) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 4});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 1'000'000), [gate](int i) {
    gate->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return batch.created() == 4; }));
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.force = true}), 4u);
  EXPECT_TRUE(batch.wait_for(scaled(2s)));
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(pool->registry().size(), 0u);
  // Places freed by the stopped jobs are not refilled from this batch.
  gate->open();
  EXPECT_TRUE(eventually([&] { return pool->unfinished_jobs() == 0; }));
  // The pool still works, and the stopped batch does not come back to life.
  auto next = rsp::new_runspace_job(*pool, std::views::iota(0, 20), [](int i) { return i; });
  EXPECT_TRUE(next.wait_for(scaled(5s)));
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 20u);
  pool.reset();
  EXPECT_LE(batch.created(), 4u);
}

// A forced clear while a huge batch of quick jobs is busy being fed: the batch ends, and nothing
// of it is left in the registry or appears there afterwards.
TEST(ClearJobs, ForceOnABusyBatchLeavesNothingBehind) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 4});
  for (int round = 0; round < 20; ++round) {
    auto batch =
        rsp::new_runspace_job(*pool, std::views::iota(0, 1'000'000), [](int i) { return i; });
    ASSERT_TRUE(eventually([&] { return batch.created() >= 50; }));
    rsp::clear_runspace_jobs(*pool, {.force = true});
    EXPECT_EQ(pool->registry().size(), 0u) << "round " << round;
    ASSERT_TRUE(batch.wait_for(scaled(2s))) << "round " << round;
    std::size_t created = batch.created();
    EXPECT_LT(created, 1'000'000u);
    EXPECT_EQ(pool->registry().size(), 0u)
        << "round " << round << ": a job appeared after the clear";
    for (const auto& job : rsp::receive_runspace_job(*pool)) {
      ADD_FAILURE() << "round " << round << ": job " << job.id << " (input " << job.input_index
                    << ") left behind, " << rsp::to_string(job.state);
    }
    EXPECT_EQ(batch.created(), created);
  }
}

// A job that ignores the stop does not hold the clear up.
TEST(ClearJobs, ForceReturnsPromptlyWhenAJobIgnoresTheStop) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = 200ms});
  DeafUntilReleased deaf;  // held until the test ends: no interruption point, no stop check
  ReleaseOnExit release{deaf};
  auto started = std::make_shared<std::atomic<bool>>(false);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 1), [started, deaf](int) {
    *started = true;
    deaf.wait();
  });
  ASSERT_TRUE(eventually([&] { return started->load(); }));
  auto start = Clock::now();
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.force = true}), 1u);
  EXPECT_LT(Clock::now() - start, scaled(1500ms));
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_TRUE(batch.done());
  // Past stop_grace the runspace is given up and replaced: the only runspace is still held by the
  // job, yet the pool runs new jobs.
  auto next = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  EXPECT_TRUE(next.wait_for(scaled(2s)));
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 3u);
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
}

// force with an id stops that job only; its batch goes on feeding.
TEST(ClearJobs, ForceWithIdStopsOnlyThatJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3, .max_queue = 3});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::JobId first = pool->registry().next_id();
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5), [gate](int i) {
    gate->wait();
    return i;
  });
  // Running, not only taken by a runspace (busy_runspaces counts from the take).
  ASSERT_TRUE(eventually([&] {
    for (rsp::JobId id = first; id < first + 3; ++id) {
      if (pool->registry().state(id) != rsp::JobState::Running) return false;
    }
    return true;
  }));

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = first + 1, .force = true}), 1u);
  EXPECT_FALSE(pool->registry().state(first + 1).has_value());
  EXPECT_EQ(pool->registry().state(first), rsp::JobState::Running);
  EXPECT_EQ(pool->registry().state(first + 2), rsp::JobState::Running);
  rsp::Progress progress = pool->registry().progress();
  EXPECT_EQ(progress.stopped, 1u);
  EXPECT_EQ(progress.completed, 0u);

  gate->open();
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 4u);  // inputs 0, 2, 3 and 4: the batch was not stopped
  std::vector<std::size_t> inputs;
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    inputs.push_back(job.input_index);
  }
  EXPECT_EQ(inputs, (std::vector<std::size_t>{0, 2, 3, 4}));
}

// force with a name stops that batch only.
TEST(ClearJobs, ForceWithNameStopsOnlyThatBatch) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto work = [gate](int i) {
    gate->wait();
    return i;
  };
  auto victim = rsp::new_runspace_job(*pool, std::views::iota(0, 2), work, {.name = "victim"});
  ASSERT_TRUE(eventually([&] { return victim.created() == 2; }));
  rsp::JobId bystander_first = pool->registry().next_id();
  auto bystander = rsp::new_runspace_job(*pool, std::views::iota(0, 2), work, {.name = "by"});
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 4; }));

  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "victim", .force = true}), 2u);
  EXPECT_TRUE(victim.wait_for(scaled(2s)));
  EXPECT_FALSE(bystander.done());
  EXPECT_EQ(pool->registry().size(), 2u);
  EXPECT_EQ(pool->registry().state(bystander_first), rsp::JobState::Running);
  gate->open();
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.name, "by");
    EXPECT_EQ(job.state, rsp::JobState::Completed);
  }
}

// Given a pool, a clear (forced or not) touches only that pool's jobs; the registry overload
// touches every pool's.
TEST(ClearJobs, OnAPoolOnlyTouchesThatPool) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto a = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto b = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto quick = [](int i) { return i; };
  auto blocked = [gate](int i) {
    gate->wait();
    return i;
  };
  ASSERT_TRUE(rsp::new_runspace_job(*a, std::views::iota(0, 2), quick).wait_for(scaled(5s)));
  ASSERT_TRUE(rsp::new_runspace_job(*b, std::views::iota(0, 2), quick).wait_for(scaled(5s)));
  rsp::new_runspace_job(*a, std::views::iota(0, 2), blocked, {.name = "a-blocked"});
  auto b_blocked =
      rsp::new_runspace_job(*b, std::views::iota(0, 2), blocked, {.name = "b-blocked"});
  ASSERT_TRUE(eventually([&] { return a->busy_runspaces() == 2 && b->busy_runspaces() == 2; }));
  EXPECT_EQ(registry->size(), 8u);

  EXPECT_EQ(rsp::clear_runspace_jobs(*a), 2u);
  EXPECT_EQ(registry->size(), 6u);
  EXPECT_EQ(rsp::clear_runspace_jobs(a, {.force = true}), 2u);
  EXPECT_EQ(registry->size(), 4u);
  EXPECT_FALSE(b_blocked.done());
  EXPECT_EQ(b->busy_runspaces(), 2u);

  EXPECT_EQ(rsp::clear_runspace_jobs(*registry), 2u);  // b's finished ones
  EXPECT_EQ(registry->size(), 2u);
  gate->open();
  ASSERT_TRUE(b_blocked.wait_for(scaled(5s)));
  auto jobs = rsp::receive_runspace_job(*registry);
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.name, "b-blocked");
    EXPECT_EQ(job.state, rsp::JobState::Completed);
  }
}

TEST(ClearJobs, NullPoolIsRejected) {
  std::shared_ptr<rsp::RunspacePool> none;
  EXPECT_THROW(rsp::clear_runspace_jobs(none), std::invalid_argument);
}
