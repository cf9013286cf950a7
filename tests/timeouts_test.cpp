// The "Timeouts and stops" section of API.md: when a timeout counts from, what a timed-out job
// keeps, how Boost sleeps and waits are woken, that a stop never leaks into the next job, how a
// job that ignores its stop is abandoned, and that stopping, clearing and destroying never hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <iostream>
#include <memory>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#include <boost/thread/thread.hpp>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {

using rsp_test::Clock;
using rsp_test::eventually;
using rsp_test::scaled;

std::string timed_out_after(std::chrono::milliseconds timeout) {
  return "timed out after " + std::to_string(timeout.count()) + " ms";
}

// Sleeps in std sleeps (no Boost.Thread interruption point) until `released` holds or `limit`
// (scaled) passes: work deaf to both the stop and the interrupt, held until the test lets go.
template <class Released>
void deaf_until(Released released, std::chrono::milliseconds limit = 5s) {
  auto until = Clock::now() + scaled(limit);
  while (!released() && Clock::now() < until) std::this_thread::sleep_for(2ms);
}

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Work that ignores stops and interrupts: std::this_thread::sleep_for is no Boost.Thread
// interruption point and the loop never looks at its JobContext. It runs until the test
// releases it (or `limit` passes), so no thread of a test outlives it running test code.
struct StuckWork {
  struct State {
    std::atomic<bool> released{false};
    std::atomic<int> started{0};
    std::atomic<int> running{0};
  };
  std::shared_ptr<State> state = std::make_shared<State>();

  auto script(std::chrono::milliseconds limit = 5s) const {
    return [s = state, limit](int) {
      ++s->started;
      ++s->running;
      deaf_until([&] { return s->released.load(); }, limit);
      --s->running;
    };
  }

  // Lets the stuck jobs end and waits until every one of them has left the script.
  bool release() const {
    state->released.store(true);
    return eventually([&] { return state->running.load() == 0; });
  }
};

}  // namespace

// The timeout counts from the moment a job starts, not from when it was queued: on one
// runspace, three jobs wait behind a job without a timeout for longer than their own timeout,
// and still Complete their 20 ms of work.
TEST(Timeouts, CountFromStartNotFromQueueing) {
  // 50 times the work, and scaled, so a starved job still beats it.
  const auto kTimeout = scaled(1000ms);
  rsp_test::Gate gate;
  rsp_test::OpenOnExit open_gate{gate};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 4});
  std::atomic<bool> blocker_started{false};
  // Holds the one runspace until the test opens the gate; it has no timeout of its own.
  rsp::new_runspace_job(*pool, std::vector<int>{0}, [&](int) {
    blocker_started.store(true);
    gate.wait();
  });
  ASSERT_TRUE(eventually([&] { return blocker_started.load(); }));
  // 0: an interruptible Boost sleep, 1: an uninterruptible sleep, 2: busy work.
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1, 2},
                        [](int kind) {
                          if (kind == 0) {
                            boost::this_thread::sleep_for(boost::chrono::milliseconds(20));
                          } else if (kind == 1) {
                            std::this_thread::sleep_for(20ms);
                          } else {
                            auto until = Clock::now() + 20ms;
                            volatile unsigned spins = 0;
                            while (Clock::now() < until) spins = spins + 1;
                          }
                          return kind;
                        },
                        {.timeout = kTimeout});
  // Once the three are queued, keep them waiting longer than their timeout.
  ASSERT_TRUE(eventually([&] { return pool->registry().size() == 4; }));
  std::this_thread::sleep_for(kTimeout + 100ms);
  gate.open();
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const rsp::ReceivedJob& job = jobs[static_cast<std::size_t>(i) + 1];
    EXPECT_EQ(job.state, rsp::JobState::Completed)
        << "after " << std::chrono::duration_cast<std::chrono::milliseconds>(job.duration).count()
        << " ms";
    EXPECT_TRUE(job.errors.empty());
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{i});
    EXPECT_GE(job.duration, 20ms);
    // It really was queued longer than its timeout before it started.
    EXPECT_GE(job.started - job.queued, kTimeout);
  }
}

// At the deadline the job is TimedOut at once, even while its script still runs (here it is
// blocked in a wait that no stop or interrupt reaches): what it wrote is kept, plus exactly one
// error record naming the timeout.
TEST(Timeouts, TimedOutAtDeadlineKeepsWhatWasWritten) {
  // Its writes before blocking must land before the deadline, even on a starved machine.
  const auto kTimeout = scaled(200ms);
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = scaled(5s)});
  auto start = Clock::now();
  rsp::new_runspace_job(*pool, std::vector<int>{7},
                        [released](int input, rsp::JobContext& ctx) {
                          ctx.write_output(input);
                          ctx.write_warning("about to block");
                          ctx.write_progress(40, "blocked");
                          released.wait();  // std::future: not a Boost interruption point
                          ctx.write_output(std::string("after the deadline"));
                          ctx.write_error("after the deadline");
                          return -1;
                        },
                        {.name = "slow", .timeout = kTimeout});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  auto received_after = since(start);
  release->set_value();
  ASSERT_EQ(jobs.size(), 1u);
  const rsp::ReceivedJob& job = jobs[0];
  EXPECT_LT(received_after, kTimeout + scaled(1s)) << "the job was not ended at its deadline";
  EXPECT_EQ(job.state, rsp::JobState::TimedOut);
  EXPECT_EQ(job.name, "slow");
  EXPECT_EQ(job.output_as<int>(), std::vector<int>{7});
  EXPECT_EQ(job.warnings, std::vector<std::string>{"about to block"});
  ASSERT_TRUE(job.progress.has_value());
  EXPECT_EQ(job.progress->percent, 40);
  ASSERT_EQ(job.errors.size(), 1u);
  EXPECT_TRUE(job.had_errors());
  EXPECT_EQ(job.errors[0].message, timed_out_after(kTimeout));
  EXPECT_EQ(job.errors[0].type, "rsp::JobTimedOut");
  ASSERT_TRUE(job.errors[0].exception);
  EXPECT_THROW(std::rethrow_exception(job.errors[0].exception), rsp::JobTimedOut);
  try {
    std::rethrow_exception(job.errors[0].exception);
  } catch (const rsp::JobTimedOut& e) {
    EXPECT_EQ(std::string(e.what()), timed_out_after(kTimeout));
  }
  EXPECT_GE(job.duration, kTimeout);
  EXPECT_LT(job.duration, kTimeout + scaled(1s));
  EXPECT_GE(job.finished - job.started, kTimeout);
  // The script goes on once released; the runspace takes the next job afterwards.
  auto next =
      rsp::invoke_parallel(std::vector<int>{1}, [](int i) { return i + 1; }, {.pool = pool});
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].state, rsp::JobState::Completed);
  EXPECT_EQ(next[0].output_as<int>(), std::vector<int>{2});
  EXPECT_EQ(pool->abandoned_runspaces(), 0u);
}

namespace {

struct Woken {
  bool interrupted = false;
  bool stop_requested = false;
  bool token_stop_requested = false;
  Clock::time_point at;
};

// How long the blocks below would wait if nothing woke them, and the bound they must wake
// within (scaled together, so a block that only ends on its own is always caught).
const auto kBlockFor = scaled(std::chrono::milliseconds(5s));
const auto kWokenWithin = scaled(std::chrono::milliseconds(2s));

// Runs `block` in a job with a 100 ms timeout and reports how and when the job got out of it.
template <class Block>
void expect_woken_by_timeout(Block block) {
  auto woke = std::make_shared<std::promise<Woken>>();
  std::future<Woken> woken = woke->get_future();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  auto start = Clock::now();
  rsp::new_runspace_job(*pool, std::vector<int>{0},
                        [woke, block](int, rsp::JobContext& ctx) {
                          Woken w;
                          try {
                            block();
                          } catch (const boost::thread_interrupted&) {
                            w.interrupted = true;
                          }
                          w.stop_requested = ctx.stop_requested();
                          w.token_stop_requested = ctx.stop_token().stop_requested();
                          w.at = Clock::now();
                          woke->set_value(w);
                        },
                        {.timeout = 100ms});
  ASSERT_EQ(woken.wait_for(scaled(4s)), std::future_status::ready) << "the job never woke";
  Woken w = woken.get();
  EXPECT_TRUE(w.interrupted);
  EXPECT_TRUE(w.stop_requested);
  EXPECT_TRUE(w.token_stop_requested);
  EXPECT_GE(w.at - start, 100ms);
  EXPECT_LT(w.at - start, kWokenWithin) << "woke only when its wait ended";
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_EQ(jobs[0].errors[0].message, "timed out after 100 ms");
  EXPECT_EQ(pool->abandoned_runspaces(), 0u);
}

}  // namespace

TEST(Timeouts, BoostSleepWakesAtOnce) {
  expect_woken_by_timeout(
      [] { boost::this_thread::sleep_for(boost::chrono::milliseconds(kBlockFor.count())); });
}

TEST(Timeouts, BoostConditionWaitWakesAtOnce) {
  expect_woken_by_timeout([] {
    boost::mutex mutex;
    boost::condition_variable never_notified;
    boost::unique_lock<boost::mutex> lock(mutex);
    never_notified.wait_for(lock, boost::chrono::milliseconds(kBlockFor.count()),
                            [] { return false; });
  });
}

// One runspace alternates jobs that time out with jobs that do not. Half of the timing-out jobs
// are woken from a Boost sleep; the other half ignore the interrupt and return only once their
// stop token says they timed out, leaving the interrupt pending. The jobs that do not time out
// sleep in a Boost sleep, which would throw boost::thread_interrupted if an interrupt meant for the
// job before were still pending, and report whether they see a stop.
TEST(Timeouts, StopNeverReachesTheNextJob) {
  constexpr int kAlternations = 12;
  const auto kTimeout = scaled(250ms);  // 50x the quick jobs' 5 ms, for loaded CI machines
  enum Kind { kQuick, kWokenFromBoostSleep, kReturnsAfterDeadline };
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  std::vector<int> inputs;
  for (int i = 0; i < kAlternations; ++i) {
    inputs.push_back(i % 2 == 0 ? kWokenFromBoostSleep : kReturnsAfterDeadline);
    inputs.push_back(kQuick);
  }
  rsp::new_runspace_job(*pool, inputs,
                        [](int kind, rsp::JobContext& ctx) {
                          if (kind == kWokenFromBoostSleep) {
                            boost::this_thread::sleep_for(boost::chrono::seconds(5));
                          } else if (kind == kReturnsAfterDeadline) {
                            // Past the deadline, deaf to the interrupt: std sleeps until the
                            // timeout stopped it.
                            deaf_until([&] { return ctx.stop_token().stop_requested(); }, 10s);
                            return true;
                          }
                          boost::this_thread::sleep_for(boost::chrono::milliseconds(5));
                          ctx.check_stop();
                          return ctx.stop_requested() || ctx.stop_token().stop_requested();
                        },
                        {.timeout = kTimeout});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(20s)});
  ASSERT_EQ(jobs.size(), inputs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    SCOPED_TRACE("job " + std::to_string(i) + ", kind " + std::to_string(inputs[i]));
    if (inputs[i] != kQuick) {
      EXPECT_EQ(jobs[i].state, rsp::JobState::TimedOut);
      ASSERT_EQ(jobs[i].errors.size(), 1u);
      EXPECT_EQ(jobs[i].errors[0].message, timed_out_after(kTimeout));
      EXPECT_TRUE(jobs[i].output.empty());
    } else {
      EXPECT_EQ(jobs[i].state, rsp::JobState::Completed)
          << (jobs[i].errors.empty() ? ""
                                     : jobs[i].errors[0].type + ": " + jobs[i].errors[0].message);
      EXPECT_TRUE(jobs[i].errors.empty());
      EXPECT_EQ(jobs[i].output_as<bool>(), std::vector<bool>{false});
    }
  }
  EXPECT_EQ(pool->abandoned_runspaces(), 0u);
}

// A job that ignores its stop for stop_grace is abandoned: a fresh runspace takes its place, the
// next job runs at once, and what the abandoned job writes later is dropped.
TEST(Timeouts, JobIgnoringStopIsAbandonedAndReplaced) {
  const auto kTimeout = scaled(100ms);  // its first write must land before it
  constexpr auto kGrace = 200ms;
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> abandoned_done = finished->get_future();
  auto released = std::make_shared<std::atomic<bool>>(false);
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = kGrace});
  auto start = std::chrono::system_clock::now();
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1},
                        [finished, released](int stuck, rsp::JobContext& ctx) -> int {
                          if (stuck != 0) return stuck;
                          ctx.write_output(std::string("before"));
                          // Ignores the stop and the interrupt until the test saw it abandoned.
                          deaf_until([&] { return released->load(); });
                          ctx.write_output(std::string("after"));
                          ctx.write_warning("after");
                          ctx.write_error("after");
                          ctx.write_information("after");
                          ctx.write_progress(100, "after");
                          finished->set_value();
                          return 99;  // would be Output too
                        },
                        {.timeout = kTimeout});
  auto first = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].state, rsp::JobState::Completed);
  EXPECT_EQ(first[1].output_as<int>(), std::vector<int>{1});
  EXPECT_LT(first[1].finished - start, kTimeout + kGrace + scaled(1s))
      << "the next job waited for the stuck one";
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
  EXPECT_EQ(pool->open_runspaces(), 1u);  // capacity kept

  // Only now, after the abandoned job wrote, look at what was received for it.
  released->store(true);
  ASSERT_EQ(abandoned_done.wait_for(scaled(4s)), std::future_status::ready);
  const rsp::ReceivedJob& stuck = first[0];
  EXPECT_EQ(stuck.state, rsp::JobState::TimedOut);
  EXPECT_EQ(stuck.output_as<std::string>(), std::vector<std::string>{"before"});
  ASSERT_EQ(stuck.errors.size(), 1u);
  EXPECT_EQ(stuck.errors[0].message, timed_out_after(kTimeout));
  EXPECT_TRUE(stuck.warnings.empty());
  EXPECT_TRUE(stuck.information.empty());
  EXPECT_FALSE(stuck.progress.has_value());
  // Nothing of it reached the registry either, and the pool still runs jobs.
  EXPECT_EQ(pool->registry().size(), 0u);
  auto later =
      rsp::invoke_parallel(std::vector<int>{5, 6}, [](int i) { return i; }, {.pool = pool});
  EXPECT_EQ(rsp::outputs_as<int>(later), (std::vector<int>{5, 6}));
  EXPECT_TRUE(rsp::receive_runspace_job(*pool, {}).empty());
}

// Same, with the received job kept in the registry while the abandoned job writes: the kept
// record must not change under the receiver.
TEST(Timeouts, AbandonedJobWritesDroppedFromKeptRecord) {
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> abandoned_done = finished->get_future();
  auto released = std::make_shared<std::atomic<bool>>(false);
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = 100ms});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::vector<int>{0},
                                              [finished, released](int, rsp::JobContext& ctx) {
                                                // Ignores the stop and the interrupt until the test
                                                // saw it abandoned.
                                                deaf_until([&] { return released->load(); });
                                                ctx.write_output(1);
                                                ctx.write_error("late");
                                                finished->set_value();
                                              },
                                              {.timeout = 50ms});
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  ASSERT_TRUE(eventually([&] { return pool->abandoned_runspaces() == 1; }));
  released->store(true);
  ASSERT_EQ(abandoned_done.wait_for(scaled(4s)), std::future_status::ready);
  auto jobs = rsp::receive_runspace_job(*pool, {.keep = true});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  EXPECT_TRUE(jobs[0].output.empty());
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_EQ(jobs[0].errors[0].type, "rsp::JobTimedOut");
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool), 1u);
}

// JobBatch::stop() returns at once whatever the jobs do; the stopped jobs end Stopped at once,
// and those that ignore the stop are abandoned after stop_grace.
TEST(Timeouts, BatchStopNeverWaitsForJobs) {
  constexpr auto kGrace = 300ms;
  StuckWork stuck;
  {
    auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .stop_grace = kGrace});
    rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100), stuck.script());
    ASSERT_TRUE(eventually([&] { return stuck.state->started.load() == 2; }));
    auto start = Clock::now();
    batch.stop();
    EXPECT_LT(since(start), kGrace + scaled(1s));
    EXPECT_TRUE(batch.wait_for(kGrace + scaled(1s)));
    EXPECT_TRUE(batch.done());
    auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
    EXPECT_EQ(jobs.size(), batch.created());
    EXPECT_LT(jobs.size(), 100u);
    for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Stopped);
    ASSERT_TRUE(eventually([&] { return pool->abandoned_runspaces() == 2; }));
    EXPECT_EQ(pool->open_runspaces(), 2u);
    EXPECT_EQ(stuck.state->started.load(), 2);
    start = Clock::now();
    pool.reset();
    EXPECT_LT(since(start), kGrace + scaled(1s));
  }
  EXPECT_TRUE(stuck.release());
}

// A forced clear stops everything of the pool and returns without waiting for jobs.
TEST(Timeouts, ForcedClearNeverWaitsForJobs) {
  constexpr auto kGrace = 300ms;
  StuckWork stuck;
  {
    auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .stop_grace = kGrace});
    rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100), stuck.script());
    ASSERT_TRUE(eventually([&] { return stuck.state->started.load() == 2; }));
    auto start = Clock::now();
    std::size_t removed = rsp::clear_runspace_jobs(*pool, {.force = true});
    EXPECT_LT(since(start), kGrace + scaled(1s));
    EXPECT_GE(removed, 2u);
    EXPECT_TRUE(batch.wait_for(kGrace + scaled(1s)));
    EXPECT_EQ(removed, batch.created());
    EXPECT_EQ(pool->registry().size(), 0u);
    EXPECT_TRUE(rsp::receive_runspace_job(*pool, {.wait = true, .timeout = 1s}).empty());
    start = Clock::now();
    pool.reset();
    EXPECT_LT(since(start), kGrace + scaled(1s));
  }
  EXPECT_TRUE(stuck.release());
}

// Destroying a pool stops what is queued, gives running jobs stop_grace, and never hangs.
TEST(Timeouts, PoolDestructionNeverHangs) {
  constexpr auto kGrace = 300ms;
  StuckWork stuck;
  auto registry = std::make_shared<rsp::JobRegistry>();
  rsp::JobBatch batch;
  {
    auto pool =
        rsp::new_runspace_pool({.max_runspaces = 2, .stop_grace = kGrace, .registry = registry});
    batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100), stuck.script());
    ASSERT_TRUE(eventually([&] { return stuck.state->started.load() == 2; }));
    auto start = Clock::now();
    pool.reset();
    EXPECT_LT(since(start), kGrace + scaled(1s));
  }
  EXPECT_TRUE(batch.done());
  auto jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(5s)});
  EXPECT_EQ(jobs.size(), batch.created());
  for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Stopped);
  EXPECT_TRUE(stuck.release());
}

// Deadlines are kept under load: 2,000 jobs blocked in Boost sleeps on 64 runspaces, 20 ms each,
// each stopped at its deadline, never left to finish its sleep.
TEST(Timeouts, LatenessUnderLoad) {
  constexpr int kJobs = 2000;
  constexpr auto kTimeout = 20ms;
  auto start = Clock::now();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 64});
  rsp::new_runspace_job(*pool, std::views::iota(0, kJobs),
                        [](int) { boost::this_thread::sleep_for(boost::chrono::seconds(10)); },
                        {.timeout = kTimeout});
  std::vector<std::chrono::nanoseconds> lateness;
  std::size_t timed_out = 0;
  rsp::receive_runspace_job(*pool, {.timeout = 20s}, [&](const rsp::ReceivedJob& job) {
    if (job.state == rsp::JobState::TimedOut) ++timed_out;
    lateness.push_back(job.duration - kTimeout);
  });
  auto elapsed = since(start);
  ASSERT_EQ(lateness.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(timed_out, static_cast<std::size_t>(kJobs));
  std::sort(lateness.begin(), lateness.end());
  auto p99 = lateness[static_cast<std::size_t>(std::ceil(0.99 * kJobs)) - 1];
  double p99_ms = std::chrono::duration<double, std::milli>(p99).count();
  std::cout << "[ lateness ] p99 " << p99_ms << " ms, max "
            << std::chrono::duration<double, std::milli>(lateness.back()).count() << " ms, run "
            << elapsed.count() << " ms\n";
  RecordProperty("p99_lateness_us", static_cast<int>(p99_ms * 1000));
  EXPECT_GE(lateness.front(), 0ns);
  // Order of magnitude only: every job was stopped at its deadline rather than after the 10 s it
  // would have slept. How late, in milliseconds, is the benchmark's to measure (case 6, p99 <=
  // 5 ms on a quiet machine); a test run beside other builds cannot hold a speed.
  EXPECT_LT(p99, 1s);
  EXPECT_LT(lateness.back(), 5s);
  EXPECT_LT(elapsed, 20s);
}

// An abandoned job that keeps writing to its JobContext and using its runspace's variables after
// the pool (and its registry) are gone must not touch freed memory (this is for ASan).
TEST(Timeouts, AbandonedJobOutlivesItsPool) {
  struct Shared {
    std::atomic<bool> started{false};
    std::atomic<bool> pool_gone{false};
    std::atomic<int> writes{0};
    std::atomic<bool> closed{false};
    std::atomic<bool> done{false};
  };
  auto shared = std::make_shared<Shared>();
  rsp::PoolOptions options{.max_runspaces = 1, .stop_grace = 100ms};
  options.session.variables["counter"] = 0;
  options.session.variables["label"] = std::string("runspace");
  options.session.close = [shared](rsp::Runspace& rs) {
    rs.variable<int>("counter") += 1;
    shared->closed.store(true);
  };
  auto registry = std::make_shared<rsp::JobRegistry>();
  options.registry = registry;
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(*pool, std::vector<int>{0}, [shared](int, rsp::JobContext& ctx) {
    shared->started.store(true);
    while (!shared->pool_gone.load()) std::this_thread::sleep_for(1ms);  // ignores the stop
    auto until = Clock::now() + 300ms;
    while (Clock::now() < until) {
      ctx.write_output(shared->writes.load());
      ctx.write_error("still here");
      ctx.write_warning(ctx.name() + std::to_string(ctx.id()));
      ctx.write_progress(50, ctx.runspace().variable<std::string>("label"));
      ctx.runspace().variable<int>("counter") += 1;
      ctx.runspace().state() = std::string("touched");
      if (ctx.stop_requested()) ++shared->writes;
      std::this_thread::sleep_for(1ms);
    }
    shared->done.store(true);
  });
  ASSERT_TRUE(eventually([&] { return shared->started.load(); }));
  auto start = Clock::now();
  pool->close();
  EXPECT_LT(since(start), 100ms + scaled(1s));
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
  auto jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Stopped);
  EXPECT_TRUE(jobs[0].output.empty());
  pool.reset();
  registry.reset();
  shared->pool_gone.store(true);
  // Let it write for its 300 ms, then finish and run the close hook.
  EXPECT_TRUE(eventually([&] { return shared->done.load() && shared->closed.load(); }, 5s));
  EXPECT_GT(shared->writes.load(), 0);
}
