// Unit tests of include/rsparallel/runspace_pool.hpp: option validation, the options in force,
// opening runspaces at once and on demand, idle closing, shared registries, close() and the
// counters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <ranges>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <boost/thread/thread.hpp>
#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::scaled;
using ::testing::HasSubstr;

namespace {

// Counts jobs running at once and keeps the highest count seen.
class Concurrency {
 public:
  // Enters, waits until `target` are inside at once (or `limit`, scaled, passes, or a stop),
  // leaves.
  void enter_and_wait_for(std::size_t target, std::stop_token stop,
                          std::chrono::milliseconds limit = 2s) {
    std::unique_lock lock(mutex_);
    ++now_;
    peak_ = std::max(peak_, now_);
    cv_.notify_all();
    cv_.wait_for(lock, stop, rsp_test::scaled(limit), [&] { return peak_ >= target; });
    lock.unlock();
    std::this_thread::sleep_for(5ms);  // stay a little so that others overlap
    lock.lock();
    --now_;
  }
  std::size_t peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::size_t now_ = 0;
  std::size_t peak_ = 0;
};

// The message of the std::invalid_argument that creating a pool with `options` throws.
std::string rejection(const rsp::PoolOptions& options) {
  try {
    auto pool = rsp::new_runspace_pool(options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return {};
}

}  // namespace

// ---- validation ------------------------------------------------------------------------------

TEST(RunspacePool, RejectsZeroMinRunspaces) {
  std::string what = rejection({.min_runspaces = 0});
  EXPECT_THAT(what, HasSubstr("min_runspaces"));
  EXPECT_THAT(what, HasSubstr("0"));
}

TEST(RunspacePool, RejectsTooManyMinRunspaces) {
  std::string what = rejection({.min_runspaces = 65536, .max_runspaces = 65536});
  EXPECT_THAT(what, HasSubstr("min_runspaces"));
  EXPECT_THAT(what, HasSubstr("65536"));
}

TEST(RunspacePool, RejectsZeroMaxRunspaces) {
  std::string what = rejection({.max_runspaces = 0});
  EXPECT_THAT(what, HasSubstr("max_runspaces"));
  EXPECT_THAT(what, HasSubstr("0"));
}

TEST(RunspacePool, RejectsTooManyMaxRunspaces) {
  std::string what = rejection({.max_runspaces = 65536});
  EXPECT_THAT(what, HasSubstr("max_runspaces"));
  EXPECT_THAT(what, HasSubstr("65536"));
}

TEST(RunspacePool, RejectsMinAboveMax) {
  std::string what = rejection({.min_runspaces = 5, .max_runspaces = 3});
  EXPECT_THAT(what, HasSubstr("max_runspaces"));
  EXPECT_THAT(what, HasSubstr("min_runspaces"));
  EXPECT_THAT(what, HasSubstr("3"));
  EXPECT_THAT(what, HasSubstr("5"));
}

TEST(RunspacePool, RejectsNegativeIdleTimeout) {
  std::string what = rejection({.idle_timeout = -1ms});
  EXPECT_THAT(what, HasSubstr("idle_timeout"));
  EXPECT_THAT(what, HasSubstr("-1"));
}

TEST(RunspacePool, RejectsNegativeStopGrace) {
  std::string what = rejection({.stop_grace = -250ms});
  EXPECT_THAT(what, HasSubstr("stop_grace"));
  EXPECT_THAT(what, HasSubstr("-250"));
}

TEST(RunspacePool, ConstructorAndValidateRejectToo) {
  EXPECT_THROW(rsp::RunspacePool pool({.min_runspaces = 0}), std::invalid_argument);
  EXPECT_THROW((rsp::validate(rsp::PoolOptions{.min_runspaces = 2, .max_runspaces = 1})),
               std::invalid_argument);
  EXPECT_NO_THROW(rsp::validate(rsp::PoolOptions{}));
}

TEST(RunspacePool, AcceptsTheBounds) {
  // 65535 is allowed as a maximum; only min_runspaces open at once.
  auto wide = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = 65535});
  EXPECT_EQ(wide->options().max_runspaces, 65535u);
  EXPECT_EQ(wide->open_runspaces(), 1u);
  auto zero_times = rsp::new_runspace_pool(
      {.min_runspaces = 1, .max_runspaces = 1, .idle_timeout = 0ms, .stop_grace = 0ms});
  EXPECT_EQ(zero_times->open_runspaces(), 1u);
}

// ---- options in force ------------------------------------------------------------------------

TEST(RunspacePool, OptionsResolveMaxQueueAndRegistry) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 7});
  EXPECT_EQ(pool->options().max_queue, 21u);
  EXPECT_EQ(pool->options().max_runspaces, 7u);
  ASSERT_NE(pool->options().registry, nullptr);
  EXPECT_EQ(pool->options().registry.get(), &pool->registry());
  EXPECT_EQ(pool->shared_registry().get(), &pool->registry());

  auto explicit_queue = rsp::new_runspace_pool({.max_runspaces = 4, .max_queue = 5});
  EXPECT_EQ(explicit_queue->options().max_queue, 5u);

  // A streaming receiver's backlog: max(max_queue, 256) unless given.
  EXPECT_EQ(pool->options().max_unreceived, 256u);
  EXPECT_EQ(rsp::new_runspace_pool({.max_queue = 300})->options().max_unreceived, 300u);
  EXPECT_EQ(rsp::new_runspace_pool({.max_queue = 5, .max_unreceived = 3})->options().max_unreceived,
            3u);

  // Each pool made without a registry gets its own.
  EXPECT_NE(&pool->registry(), &explicit_queue->registry());
}

TEST(RunspacePool, UsesTheRegistryGiven) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  EXPECT_EQ(pool->options().registry, registry);
  EXPECT_EQ(&pool->registry(), registry.get());
}

// ---- opening and closing runspaces -----------------------------------------------------------

TEST(RunspacePool, MinRunspacesOpenAtOnce) {
  std::atomic<int> opened{0};
  rsp::PoolOptions options{.min_runspaces = 3, .max_runspaces = 5};
  options.session.open = [&](rsp::Runspace&) { ++opened; };
  auto pool = rsp::new_runspace_pool(options);
  EXPECT_EQ(pool->open_runspaces(), 3u);
  EXPECT_TRUE(eventually([&] { return opened.load() == 3; }));
  EXPECT_EQ(pool->busy_runspaces(), 0u);
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
  EXPECT_EQ(pool->abandoned_runspaces(), 0u);
  EXPECT_TRUE(pool->open_errors().empty());
}

// Runspaces open on demand up to max_runspaces and never beyond: 3 jobs can meet at once, a 4th
// never joins them.
TEST(RunspacePool, OpensOnDemandUpToMaxAndNeverBeyond) {
  Concurrency concurrency;
  std::atomic<std::size_t> most_open{0};
  auto pool = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = 3});
  EXPECT_EQ(pool->open_runspaces(), 1u);
  auto batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 12), [&](int, rsp::JobContext& ctx) {
        std::size_t open = pool->open_runspaces();
        std::size_t seen = most_open.load();
        while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
        }
        // Wait for a 4th job to be running too; it never comes, so each waits the limit out once
        // three are in.
        concurrency.enter_and_wait_for(4, ctx.stop_token(), 150ms);
      });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(concurrency.peak(), 3u);
  EXPECT_LE(most_open.load(), 3u);
  EXPECT_EQ(pool->open_runspaces(), 3u);
}

TEST(RunspacePool, RunspacesAboveMinCloseAfterIdleTimeout) {
  Concurrency concurrency;
  std::atomic<int> closed{0};
  rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 3, .idle_timeout = 100ms};
  options.session.close = [&](rsp::Runspace&) { ++closed; };
  auto pool = rsp::new_runspace_pool(options);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [&](int, rsp::JobContext& ctx) {
    concurrency.enter_and_wait_for(3, ctx.stop_token());
  });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  ASSERT_EQ(concurrency.peak(), 3u);
  EXPECT_TRUE(eventually([&] { return pool->open_runspaces() == 1; }))
      << pool->open_runspaces() << " runspaces still open";
  EXPECT_TRUE(eventually([&] { return closed.load() == 2; }));
  // The min_runspaces one stays open however long it idles.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(pool->open_runspaces(), 1u);
  EXPECT_EQ(closed.load(), 2);

  // And the pool still runs jobs, opening runspaces again as needed.
  Concurrency again;
  auto second = rsp::new_runspace_job(
      *pool, std::views::iota(0, 2),
      [&](int, rsp::JobContext& ctx) { again.enter_and_wait_for(2, ctx.stop_token()); });
  ASSERT_TRUE(second.wait_for(scaled(10s)));
  EXPECT_EQ(again.peak(), 2u);
}

TEST(RunspacePool, NoRunspaceClosesBeforeIdleTimeout) {
  std::atomic<int> closed{0};
  rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 2};  // idle_timeout 60 s
  options.session.close = [&](rsp::Runspace&) { ++closed; };
  auto pool = rsp::new_runspace_pool(options);
  Concurrency concurrency;
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 2), [&](int, rsp::JobContext& ctx) {
    concurrency.enter_and_wait_for(2, ctx.stop_token());
  });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  ASSERT_EQ(concurrency.peak(), 2u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pool->open_runspaces(), 2u);
  EXPECT_EQ(closed.load(), 0);
}

TEST(RunspacePool, OpenHookErrorsAreReportedAndFailJobs) {
  rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 1};
  options.session.open = [](rsp::Runspace&) { throw std::runtime_error("no database"); };
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(*pool, std::vector<int>{1, 2}, [](int x) { return x; });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Failed);
    ASSERT_EQ(job.errors.size(), 1u);
    EXPECT_THAT(job.errors[0].message, HasSubstr("no database"));
  }
  auto errors = pool->open_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("no database"));
}

// ---- a registry shared by pools --------------------------------------------------------------

TEST(RunspacePool, PoolsSharingARegistryGetDistinctIncreasingIds) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto first = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto second = rsp::new_runspace_pool({.max_runspaces = 3, .registry = registry});
  auto third = rsp::new_runspace_pool({.max_runspaces = 1, .registry = registry});
  EXPECT_EQ(registry->next_id(), 1u);

  auto a =
      rsp::new_runspace_job(*first, std::views::iota(0, 5), [](int i) { return i; }, {.name = "a"});
  ASSERT_TRUE(a.wait_for(scaled(10s)));
  auto b = rsp::new_runspace_job(*second, std::views::iota(0, 4), [](int i) { return i; },
                                 {.name = "b"});
  ASSERT_TRUE(b.wait_for(scaled(10s)));
  auto c =
      rsp::new_runspace_job(*third, std::views::iota(0, 3), [](int i) { return i; }, {.name = "c"});
  auto d =
      rsp::new_runspace_job(*first, std::views::iota(0, 3), [](int i) { return i; }, {.name = "d"});
  ASSERT_TRUE(c.wait_for(scaled(10s)));
  ASSERT_TRUE(d.wait_for(scaled(10s)));
  EXPECT_EQ(registry->size(), 15u);
  EXPECT_EQ(registry->next_id(), 16u);

  // Given a pool, a receive only sees that pool's jobs.
  auto from_second = rsp::receive_runspace_job(*second, {.keep = true});
  ASSERT_EQ(from_second.size(), 4u);
  for (const auto& job : from_second) EXPECT_EQ(job.name, "b");

  auto jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 15u);
  std::set<rsp::JobId> ids;
  std::map<std::string, std::vector<rsp::JobId>> by_name;
  for (const auto& job : jobs) {
    ids.insert(job.id);
    by_name[job.name].push_back(job.id);
  }
  EXPECT_EQ(ids.size(), 15u) << "two jobs share an id";
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), 15u);
  for (const auto& [name, list] : by_name) {
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end())) << name;
  }
  // Batches created one after the other got later ids.
  EXPECT_LT(by_name["a"].back(), by_name["b"].front());
  EXPECT_LT(by_name["b"].back(), by_name["c"].front());
  EXPECT_LT(by_name["b"].back(), by_name["d"].front());
  EXPECT_EQ(registry->size(), 0u);
}

// ---- close() ---------------------------------------------------------------------------------

TEST(RunspacePool, DestroyingAPoolClosesItsDescriptorsBeforeReturning) {
  // A pool with its own registry owns two executor threads and their descriptors (epoll,
  // eventfd, timerfd). They must be closed when the destructor returns, not a moment later on a
  // thread of their own: a caller counting descriptors around a pool would see a leak.
  auto open_descriptors = [] {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
      ++count;
    }
    return count;
  };
  rsp::invoke_parallel(std::views::iota(0, 8), [](int x) { return x; });  // process-wide firsts
  for (int round = 0; round < 100; ++round) {
    std::size_t before = open_descriptors();
    {
      auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
      // Timeouts arm the pool's deadline watch, whose handlers hold the pool for a moment.
      auto jobs = rsp::invoke_parallel(std::views::iota(0, 8), [](int x) { return x; },
                                       {.timeout = 1s, .pool = pool});
      ASSERT_EQ(jobs.size(), 8u);
    }
    ASSERT_EQ(open_descriptors(), before) << "round " << round;
  }
}

TEST(RunspacePool, CloseRefusesNewJobs) {
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  auto batch = rsp::new_runspace_job(*pool, std::vector<int>{1}, [](int x) { return x; });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  pool->close();
  EXPECT_EQ(pool->open_runspaces(), 0u);
  try {
    rsp::new_runspace_job(*pool, std::vector<int>{2}, [](int x) { return x; });
    FAIL() << "new_runspace_job on a closed pool did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("closed"));
  }
  EXPECT_THROW((rsp::new_runspace_job(pool, {3, 4}, [](int x) { return x; })), std::logic_error);
  pool->close();  // a second close does nothing
  // Jobs finished before the close can still be received.
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].output_as<int>(), std::vector<int>{1});
}

// close() stops what is queued (Stopped, never run), stops the running job (check_stop throws
// and it ends Stopped) and returns as soon as that job has let go, well within stop_grace.
TEST(RunspacePool, CloseStopsQueuedAndRunningJobs) {
  Gate started;
  std::atomic<int> ran{0};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = scaled(2000ms)});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5), [&](int, rsp::JobContext& ctx) {
    ++ran;
    started.open();
    // Deaf to the Boost interrupt, so that the stop token wakes it and check_stop ends it.
    boost::this_thread::disable_interruption deaf;
    Gate never;
    never.wait(ctx.stop_token(), 10s);
    ctx.check_stop();
  });
  ASSERT_TRUE(started.wait_for(5s));
  // The feeder fills max_queue (3) behind the running job; on a loaded machine it may still be
  // at it when the first job starts.
  ASSERT_TRUE(eventually([&] { return batch.created() == 3; }));
  auto begin = std::chrono::steady_clock::now();
  pool->close();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, scaled(1500ms));
  EXPECT_TRUE(batch.wait_for(scaled(2s)));
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(pool->abandoned_runspaces(), 0u);
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  // max_queue (3) jobs were created; the close stopped the rest from being fed.
  EXPECT_EQ(batch.created(), 3u);
  EXPECT_EQ(jobs.size(), 3u);
  for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Stopped) << job.id;
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
}

// A running job that honours the stop of close() by returning early (without check_stop) did not
// complete its work: it ends Stopped, as it does after JobBatch::stop().
TEST(RunspacePool, RunningJobThatReturnsAfterCloseEndsStopped) {
  Gate started;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = scaled(2000ms)});
  auto batch = rsp::new_runspace_job(*pool, std::vector<int>{1}, [&](int, rsp::JobContext& ctx) {
    started.open();
    // Deaf to the Boost interrupt, so that the wait returns on the stop token rather than throw.
    boost::this_thread::disable_interruption deaf;
    Gate never;
    never.wait(ctx.stop_token(), 10s);
    return ctx.stop_requested() ? "gave up" : "finished";
  });
  ASSERT_TRUE(started.wait_for(5s));
  pool->close();
  ASSERT_TRUE(batch.wait_for(scaled(2s)));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Stopped)
      << "output: " << (jobs[0].output.empty() ? "" : jobs[0].output_as<std::string>().at(0));
}

// ---- counters --------------------------------------------------------------------------------

TEST(RunspacePool, BusyRunspacesAndUnfinishedJobs) {
  Gate release;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2, .max_queue = 4});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 6), [&](int, rsp::JobContext& ctx) {
    release.wait(ctx.stop_token());
  });
  EXPECT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));
  EXPECT_TRUE(eventually([&] { return pool->unfinished_jobs() == 4; }));
  EXPECT_EQ(batch.created(), 4u);  // max_queue holds the rest back
  EXPECT_EQ(pool->open_runspaces(), 2u);
  EXPECT_LE(pool->busy_runspaces(), pool->open_runspaces());
  release.open();
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_TRUE(eventually([&] { return pool->busy_runspaces() == 0; }));
  // Finished jobs that nobody received yet are no longer unfinished.
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
  EXPECT_EQ(pool->registry().size(), 6u);
}
