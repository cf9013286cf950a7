// Faults from every side: session hooks that throw, jobs that throw std::bad_alloc or write huge
// output, receive callbacks that throw, clears racing receivers, a pool destroyed under waiting
// receivers, and input ranges that throw while being read. Nothing may hang, crash or get lost.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <new>
#include <numeric>
#include <ranges>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
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
using ::testing::HasSubstr;

namespace {

using Clock = std::chrono::steady_clock;

// Sleeps, deaf to the Boost interrupt, until the job's stop is requested; `cap` (scaled) only
// keeps a failing test from hanging.
void sleep_until_stopped(const rsp::JobContext& ctx, std::chrono::milliseconds cap = 30s) {
  auto until = Clock::now() + scaled(cap);
  while (!ctx.stop_requested() && Clock::now() < until) std::this_thread::sleep_for(1ms);
}

std::set<rsp::JobId> ids_of(const std::vector<rsp::ReceivedJob>& jobs) {
  std::set<rsp::JobId> ids;
  for (const auto& job : jobs) ids.insert(job.id);
  return ids;
}

}  // namespace

// ---- session hooks -------------------------------------------------------------------------

// Runspace 1's open hook throws: open_errors() names it, its jobs fail naming the runspace and
// the failure, runspace 0 runs the rest, and nothing hangs.
TEST(Faults, OpenFailureOnOneRunspace) {
  // Both runspaces take jobs whatever the scheduling: runspace 1 fails to open only once runspace
  // 0 ran a job, and runspace 0's jobs hold it until runspace 1 has failed one.
  Gate ran_on_zero;
  OpenOnExit release{ran_on_zero};
  rsp::PoolOptions options{.min_runspaces = 2, .max_runspaces = 2};
  options.session.open = [&](rsp::Runspace& rs) {
    if (rs.index() == 1) {
      ran_on_zero.wait_for(5s);
      throw std::runtime_error("no database");
    }
  };
  auto pool = rsp::new_runspace_pool(options);
  rsp::JobRegistry& registry = pool->registry();
  const int kJobs = 40;
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kJobs),
                            [&](int, rsp::JobContext& ctx) {
                              if (ctx.runspace().index() == 0) {
                                ran_on_zero.open();
                                eventually([&] { return registry.progress().failed >= 1; });
                              }
                              return ctx.runspace().index();
                            },
                            {.name = "db"});
  ASSERT_TRUE(batch.wait_for(scaled(10s))) << "a pool with a broken runspace hung";

  std::vector<std::string> errors = pool->open_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("runspace 1"));
  EXPECT_THAT(errors[0], HasSubstr("no database"));

  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kJobs));
  int completed = 0, failed = 0;
  for (const auto& job : jobs) {
    if (job.state == rsp::JobState::Completed) {
      ++completed;
      EXPECT_EQ(job.output_as<std::size_t>(), std::vector<std::size_t>{0}) << "job " << job.id;
    } else {
      ++failed;
      EXPECT_EQ(job.state, rsp::JobState::Failed) << "job " << job.id;
      ASSERT_EQ(job.errors.size(), 1u);
      EXPECT_THAT(job.errors[0].message, HasSubstr("runspace 1"));
      EXPECT_THAT(job.errors[0].message, HasSubstr("no database"));
      EXPECT_EQ(job.errors[0].type, "std::runtime_error");
      EXPECT_TRUE(job.output.empty());
    }
  }
  EXPECT_GE(completed, 1);
  EXPECT_GE(failed, 1) << "runspace 1 took no job";
  EXPECT_EQ(completed + failed, kJobs);
}

// Every runspace fails to open, with a non-std exception: every job fails, nothing hangs.
TEST(Faults, OpenFailureOnEveryRunspace) {
  rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 3};
  options.session.open = [](rsp::Runspace&) { throw 42; };
  auto pool = rsp::new_runspace_pool(options);
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 30), [](int x) { return x; });
  std::vector<rsp::ReceivedJob> jobs;
  std::size_t n = rsp::receive_runspace_job(*pool, {.timeout = scaled(10s)},
                                            [&](rsp::ReceivedJob&& job) { jobs.push_back(job); });
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(n, 30u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Failed);
    ASSERT_EQ(job.errors.size(), 1u);
    EXPECT_THAT(job.errors[0].message, HasSubstr("failed to open"));
    EXPECT_EQ(job.errors[0].type, "int");
  }
  std::vector<std::string> errors = pool->open_errors();
  EXPECT_GE(errors.size(), 1u);
  EXPECT_LE(errors.size(), 3u);
  for (const auto& e : errors) EXPECT_THAT(e, HasSubstr("int"));
}

// A close hook that throws, when runspaces close for idleness and when the pool is destroyed,
// does not crash the process, and every opened runspace still closes once.
TEST(Faults, ThrowingCloseHookDoesNotCrash) {
  std::atomic<int> opens{0}, closes{0};
  {
    rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 3, .idle_timeout = 30ms};
    options.session.open = [&](rsp::Runspace&) { ++opens; };
    options.session.close = [&](rsp::Runspace& rs) {
      ++closes;
      if (rs.index() % 2 == 0) throw std::runtime_error("close failed");
      throw 7;
    };
    auto pool = rsp::new_runspace_pool(options);
    Gate gate;
    OpenOnExit release{gate};
    std::atomic<int> started{0};
    rsp::new_runspace_job(*pool, std::views::iota(0, 3), [&](int x) {
      ++started;
      gate.wait();
      return x;
    });
    ASSERT_TRUE(eventually([&] { return started.load() == 3; })) << "3 runspaces never opened";
    gate.open();
    auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
    ASSERT_EQ(jobs.size(), 3u);
    for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Completed);
    // The two runspaces above min close for idleness, their hooks throwing.
    ASSERT_TRUE(eventually([&] { return closes.load() >= 2; }));
    EXPECT_TRUE(eventually([&] { return pool->open_runspaces() == 1; }));
    // The pool still works afterwards.
    rsp::new_runspace_job(*pool, {5, 6}, [](int x) { return x; });
    EXPECT_EQ(rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)}).size(), 2u);
  }
  EXPECT_EQ(closes.load(), opens.load());
}

// ---- jobs that fail hard -------------------------------------------------------------------

TEST(Faults, BadAllocInAJobFailsItWithItsType) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 6), [](int x) -> int {
    if (x % 2 == 1) throw std::bad_alloc();
    return x;
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 6u);
  for (const auto& job : jobs) {
    if (job.input_index % 2 == 0) {
      EXPECT_EQ(job.state, rsp::JobState::Completed);
      EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index)});
      continue;
    }
    EXPECT_EQ(job.state, rsp::JobState::Failed);
    ASSERT_EQ(job.errors.size(), 1u);
    EXPECT_EQ(job.errors[0].type, "std::bad_alloc");
    EXPECT_FALSE(job.errors[0].message.empty());
    EXPECT_THROW(std::rethrow_exception(job.errors[0].exception), std::bad_alloc);
  }
}

TEST(Faults, MillionOutputsReceivedIntact) {
  const int kWrites = 1'000'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, {0}, [&](int, rsp::JobContext& ctx) {
    for (int i = 0; i < kWrites; ++i) ctx.write_output(i);
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(60s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  std::vector<int> values = jobs[0].output_as<int>();
  ASSERT_EQ(values.size(), static_cast<std::size_t>(kWrites));
  std::vector<int> want(kWrites);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_TRUE(values == want) << "the output came back out of order or altered";
}

TEST(Faults, HundredMegabyteStringReceivedIntact) {
  const std::size_t kSize = 100u << 20;
  auto make = [&] {
    std::string text(kSize, '\0');
    for (std::size_t i = 0; i < kSize; i += 4096) text[i] = static_cast<char>('a' + i / 4096 % 26);
    text.back() = '!';
    return text;
  };
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, {0}, [&](int) { return make(); });
  std::vector<rsp::ReceivedJob> jobs;
  rsp::receive_runspace_job(*pool, {.timeout = scaled(60s)},
                            [&](rsp::ReceivedJob&& job) { jobs.push_back(std::move(job)); });
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  ASSERT_EQ(jobs[0].output.size(), 1u);
  const std::string* text = std::any_cast<std::string>(&jobs[0].output[0]);
  ASSERT_NE(text, nullptr);
  ASSERT_EQ(text->size(), kSize);
  // Block by block, without a second 100 MB copy to compare with.
  static const char zeros[4096] = {};
  std::size_t bad_blocks = 0;
  for (std::size_t i = 0; i < kSize; i += 4096) {
    std::size_t rest = std::min<std::size_t>(4096, kSize - i) - 1;
    bool last = i + 4096 >= kSize;
    if ((*text)[i] != static_cast<char>('a' + i / 4096 % 26) ||
        std::memcmp(text->data() + i + 1, zeros, last ? rest - 1 : rest) != 0) {
      ++bad_blocks;
    }
  }
  EXPECT_EQ(bad_blocks, 0u);
  EXPECT_EQ(text->back(), '!');
}

// ---- receivers that fail -------------------------------------------------------------------

// A streaming callback throws now and then: the job it threw on (and those taken with it) go
// back unreceived and intact; retrying, every job is handed over exactly once in the end.
TEST(Faults, ThrowingReceiveCallbackLosesNoJob) {
  const int kJobs = 300;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 8});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int x) { return x * 3; });
  std::multiset<rsp::JobId> handed;
  std::vector<int> outputs;
  int calls = 0, throws = 0, attempts = 0;
  // Three callback forms; each throws on every seventh job it is given.
  auto consume = [&](const rsp::ReceivedJob& job) {
    if (++calls % 7 == 0) {
      ++throws;
      throw std::runtime_error("consumer failed");
    }
    handed.insert(job.id);
    for (int v : job.output_as<int>()) outputs.push_back(v);
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index) * 3});
  };
  while (handed.size() < static_cast<std::size_t>(kJobs) && attempts < 1000) {
    try {
      switch (attempts++ % 3) {
        case 0:
          rsp::receive_runspace_job(*pool, {.timeout = scaled(10s)},
                                    [&](rsp::ReceivedJob job) { consume(job); });
          break;
        case 1:
          rsp::receive_runspace_job(*pool, {.timeout = scaled(10s)},
                                    [&](rsp::ReceivedJob& job) { consume(job); });
          break;
        default:
          rsp::receive_runspace_job(pool->registry(), {.timeout = scaled(10s)},
                                    [&](rsp::ReceivedJob&& job) { consume(job); });
          break;
      }
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "consumer failed");
    }
  }
  EXPECT_TRUE(batch.done());
  EXPECT_GT(throws, 0);
  EXPECT_EQ(handed.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<rsp::JobId>(handed.begin(), handed.end()).size(), handed.size())
      << "a job was handed over twice";
  std::sort(outputs.begin(), outputs.end());
  std::vector<int> want(kJobs);
  for (int i = 0; i < kJobs; ++i) want[i] = i * 3;
  EXPECT_EQ(outputs, want);
  EXPECT_EQ(pool->registry().size(), 0u);
}

// An on_progress callback that throws is a receive callback too: the jobs the call had taken
// must go back, as they do when the job callback or the log throws.
TEST(Faults, ThrowingOnProgressLosesNoJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 10), [](int x) { return x; });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto throwing = [](const rsp::Progress&) { throw std::runtime_error("progress failed"); };
  EXPECT_THROW(rsp::receive_runspace_job(*pool, {.on_progress = throwing}), std::runtime_error);
  EXPECT_EQ(pool->registry().size(), 10u) << "jobs were lost with the exception";
  EXPECT_THROW(rsp::receive_runspace_job(*pool, {.wait = true, .on_progress = throwing}),
               std::runtime_error);
  EXPECT_EQ(pool->registry().size(), 10u) << "jobs were lost with the exception";
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 10u);
}

// Clear and receive race from two threads over 10,000 jobs: every job is received or cleared,
// never both, never lost.
TEST(Faults, ClearAndVectorReceiveRacing) {
  const int kJobs = 10'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 64});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int x) { return x; });
  std::atomic<bool> stop{false};
  std::vector<rsp::ReceivedJob> received;
  std::size_t cleared = 0;
  std::thread receiver([&] {
    while (!stop.load()) {
      auto jobs = rsp::receive_runspace_job(*pool);
      received.insert(received.end(), std::make_move_iterator(jobs.begin()),
                      std::make_move_iterator(jobs.end()));
      std::this_thread::yield();
    }
  });
  std::thread clearer([&] {
    while (!stop.load()) {
      cleared += rsp::clear_runspace_jobs(*pool);
      std::this_thread::yield();
    }
  });
  bool done = batch.wait_for(scaled(60s));
  stop.store(true);
  receiver.join();
  clearer.join();
  ASSERT_TRUE(done);
  cleared += rsp::clear_runspace_jobs(*pool);
  EXPECT_EQ(received.size() + cleared, static_cast<std::size_t>(kJobs))
      << received.size() << " received, " << cleared << " cleared";
  EXPECT_EQ(ids_of(received).size(), received.size()) << "a job was received twice";
  for (const auto& job : received) {
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index)});
  }
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_EQ(batch.created(), static_cast<std::size_t>(kJobs));
}

TEST(Faults, ClearAndStreamingReceiveRacing) {
  const int kJobs = 10'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 64});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int x) { return x; });
  std::atomic<bool> stop{false};
  std::set<rsp::JobId> received;
  std::size_t duplicates = 0;
  std::atomic<std::size_t> cleared{0};
  std::thread clearer([&] {
    while (!stop.load()) {
      cleared += rsp::clear_runspace_jobs(pool->registry());
      std::this_thread::yield();
    }
  });
  std::size_t handed =
      rsp::receive_runspace_job(*pool, {.timeout = scaled(60s)}, [&](rsp::ReceivedJob& j) {
        if (!received.insert(j.id).second) ++duplicates;
      });
  stop.store(true);
  clearer.join();
  EXPECT_TRUE(batch.done()) << "the streaming receiver returned before the batch was done";
  cleared += rsp::clear_runspace_jobs(*pool);
  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(handed, received.size());
  EXPECT_EQ(received.size() + cleared.load(), static_cast<std::size_t>(kJobs))
      << received.size() << " received, " << cleared.load() << " cleared";
  EXPECT_EQ(pool->registry().size(), 0u);
}

// ---- a pool going away under its receivers --------------------------------------------------

namespace {

struct Receivers {
  std::atomic<bool> vector_waiting{false}, stream_waiting{false};
  std::vector<rsp::ReceivedJob> by_vector, by_stream;
  std::future<void> vector_done, stream_done;
};

// Two receivers on `source` (a vector one with wait, and a streaming one), each raising its flag
// once it is waiting. Their 20 s (scaled) limit only keeps a failing test from hanging.
template <class Source>
void start_receivers(Source& source, Receivers& r) {
  r.vector_done = std::async(std::launch::async, [&] {
    r.by_vector = rsp::receive_runspace_job(
        source, {.name = "doomed",
                 .wait = true,
                 .timeout = scaled(20s),
                 .on_progress = [&](const rsp::Progress&) { r.vector_waiting = true; }});
  });
  r.stream_done = std::async(std::launch::async, [&] {
    rsp::receive_runspace_job(
        source,
        {.name = "doomed",
         .timeout = scaled(20s),
         .on_progress = [&](const rsp::Progress&) { r.stream_waiting = true; }},
        [&](rsp::ReceivedJob&& job) { r.by_stream.push_back(std::move(job)); });
  });
}

void expect_every_job_once_and_stopped(Receivers& r, const rsp::JobBatch& batch) {
  std::vector<rsp::ReceivedJob> all = r.by_vector;
  all.insert(all.end(), r.by_stream.begin(), r.by_stream.end());
  EXPECT_EQ(all.size(), batch.created())
      << r.by_vector.size() << " by the vector receiver, " << r.by_stream.size() << " streamed";
  EXPECT_EQ(ids_of(all).size(), all.size()) << "a job was received twice";
  for (const auto& job : all) {
    EXPECT_EQ(job.state, rsp::JobState::Stopped) << "job " << job.id;
    EXPECT_EQ(job.name, "doomed");
  }
}

}  // namespace

// The pool is destroyed while receivers wait on its jobs in the shared registry: they return
// promptly with every job (queued and running ones Stopped), even with a job ignoring its stop.
TEST(Faults, PoolDestroyedWhileReceiversWait) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool(
      {.max_runspaces = 2, .max_queue = 6, .stop_grace = scaled(200ms), .registry = registry});
  Gate gate;
  OpenOnExit release{gate};
  DeafUntilReleased deaf;
  ReleaseOnExit release_deaf{deaf};
  std::atomic<int> started{0};
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100),
                                              [&, deaf](int x) {
                                                ++started;
                                                if (x == 0) {
                                                  deaf.wait();  // ignores the stop: abandoned
                                                } else {
                                                  gate.wait();  // interruptible
                                                }
                                                return x;
                                              },
                                              {.name = "doomed"});
  Receivers r;
  start_receivers(*registry, r);
  ASSERT_TRUE(eventually([&] { return started.load() == 2; }));
  ASSERT_TRUE(eventually([&] { return r.vector_waiting.load() && r.stream_waiting.load(); }));

  auto t0 = Clock::now();
  pool.reset();
  EXPECT_LT(Clock::now() - t0, scaled(2s)) << "destroying the pool waited for its jobs";
  ASSERT_EQ(r.vector_done.wait_for(scaled(2s)), std::future_status::ready)
      << "vector receiver hung";
  ASSERT_EQ(r.stream_done.wait_for(scaled(2s)), std::future_status::ready)
      << "streaming receiver hung";
  EXPECT_TRUE(batch.done());
  EXPECT_GE(batch.created(), 2u);
  EXPECT_LE(batch.created(), 6u) << "max_queue";
  expect_every_job_once_and_stopped(r, batch);
  EXPECT_EQ(registry->size(), 0u);
}

// close() while receivers wait on the pool itself: the same, and the job that ignored its stop
// was abandoned.
TEST(Faults, PoolClosedWhileReceiversWaitOnIt) {
  auto pool =
      rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 6, .stop_grace = scaled(200ms)});
  DeafUntilReleased deaf;
  ReleaseOnExit release_deaf{deaf};
  std::atomic<int> started{0};
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100),
                                              [&, deaf](int x, rsp::JobContext& ctx) {
                                                ++started;
                                                if (x == 0) {
                                                  deaf.wait();  // ignores the stop: abandoned
                                                } else {
                                                  sleep_until_stopped(ctx);
                                                  ctx.check_stop();
                                                }
                                                return x;
                                              },
                                              {.name = "doomed"});
  Receivers r;
  start_receivers(*pool, r);
  ASSERT_TRUE(eventually([&] { return started.load() == 2; }));
  ASSERT_TRUE(eventually([&] { return r.vector_waiting.load() && r.stream_waiting.load(); }));

  auto t0 = Clock::now();
  pool->close();
  EXPECT_LT(Clock::now() - t0, scaled(2s)) << "close() waited for its jobs";
  ASSERT_EQ(r.vector_done.wait_for(scaled(2s)), std::future_status::ready)
      << "vector receiver hung";
  ASSERT_EQ(r.stream_done.wait_for(scaled(2s)), std::future_status::ready)
      << "streaming receiver hung";
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
  expect_every_job_once_and_stopped(r, batch);
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_THROW(rsp::new_runspace_job(*pool, {1}, [](int x) { return x; }), std::logic_error);
}

// The streaming callback drops the last reference to the pool it receives from: the call
// returns, every job handed over once, the rest Stopped, nothing hangs.
TEST(Faults, ReceiveCallbackDestroysThePool) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool(
      {.max_runspaces = 2, .max_queue = 6, .stop_grace = scaled(200ms), .registry = registry});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 50),
                                              [](int x, rsp::JobContext& ctx) {
                                                if (x > 0) sleep_until_stopped(ctx);
                                                return x;
                                              },
                                              {.name = "doomed"});
  rsp::RunspacePool& ref = *pool;
  std::vector<rsp::ReceivedJob> jobs;
  auto t0 = Clock::now();
  rsp::receive_runspace_job(ref, {.timeout = scaled(20s)}, [&](rsp::ReceivedJob&& job) {
    jobs.push_back(std::move(job));
    pool.reset();  // the first job (input 0) finishes at once; the others wait for a stop
  });
  EXPECT_LT(Clock::now() - t0, scaled(5s));
  EXPECT_EQ(pool, nullptr);
  EXPECT_TRUE(batch.done());
  auto rest = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(5s)});
  jobs.insert(jobs.end(), rest.begin(), rest.end());
  EXPECT_EQ(jobs.size(), batch.created());
  EXPECT_EQ(ids_of(jobs).size(), jobs.size());
  for (const auto& job : jobs) {
    if (job.input_index == 0) {
      EXPECT_EQ(job.state, rsp::JobState::Completed);
    } else {
      EXPECT_EQ(job.state, rsp::JobState::Stopped) << "job " << job.id;
    }
  }
  EXPECT_EQ(registry->size(), 0u);
}

// A job shuts its own pool down. Run in a child process (a death test that expects a clean
// exit), so that a crash fails this test only. Returns what went wrong, or nothing.
namespace {

enum class SelfShutdown { DropLastReference, Close };

std::string shut_down_from_a_job(SelfShutdown how) {
  std::ostringstream problems;
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto holder = std::make_shared<std::shared_ptr<rsp::RunspacePool>>(rsp::new_runspace_pool(
      {.max_runspaces = 2, .max_queue = 4, .stop_grace = scaled(200ms), .registry = registry}));
  rsp::RunspacePool* raw = holder->get();
  std::atomic<bool> entered{false}, shut{false}, other_running{false};
  rsp::JobBatch batch = rsp::new_runspace_job(
      *raw, std::views::iota(0, 20),
      [&, holder](int x, rsp::JobContext& ctx) {
        if (x == 3) {
          // Shut down while the other runspace runs input 4, so that the shutdown must wait.
          eventually([&] { return other_running.load(); }, 5s);
          entered = true;
          if (how == SelfShutdown::Close) {
            raw->close();
          } else {
            std::shared_ptr<rsp::RunspacePool> last = std::move(*holder);
            last.reset();  // the pool's destructor runs here, on one of its runspaces
          }
          shut = true;
        } else if (x > 3) {
          other_running = true;
          sleep_until_stopped(ctx);
          // Well within stop_grace, but long enough that the shutdown waits for it.
          std::this_thread::sleep_for(50ms);
        }
        return x;
      },
      {.name = "self"});
  std::shared_ptr<rsp::RunspacePool> kept;
  if (how == SelfShutdown::Close) kept = *holder;  // close() leaves the object to the test
  holder.reset();
  if (!eventually([&] { return entered.load(); }, 10s)) return "input 3 never ran";
  if (!batch.wait_for(scaled(5s))) problems << "jobs left unfinished after the pool shut down; ";
  if (!eventually([&] { return shut.load(); }, 2s)) {
    problems << "shutting the pool down threw out of the job instead of returning; ";
  }
  auto jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(5s)});
  if (jobs.size() != batch.created()) {
    problems << jobs.size() << " jobs received of " << batch.created() << " created; ";
  }
  for (const auto& job : jobs) {
    bool ok = job.input_index < 3
                  ? job.state == rsp::JobState::Completed
                  : job.state == rsp::JobState::Completed || job.state == rsp::JobState::Stopped;
    if (!ok) problems << "input " << job.input_index << " " << rsp::to_string(job.state) << "; ";
  }
  if (kept && kept->open_runspaces() != 0) {
    problems << kept->open_runspaces() << " runspaces still open after close(); ";
  }
  return problems.str();
}

}  // namespace

TEST(Faults, JobDestroysItsOwnPool) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::string problems = shut_down_from_a_job(SelfShutdown::DropLastReference);
        std::cerr << problems;
        std::_Exit(problems.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Faults, JobClosesItsOwnPool) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::string problems = shut_down_from_a_job(SelfShutdown::Close);
        std::cerr << problems;
        std::_Exit(problems.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- input ranges that throw ---------------------------------------------------------------

namespace {

// An input range whose iterator throws when advanced onto position `bad`.
class ThrowingIncrement {
 public:
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int pos = 0;
    int bad = 0;
    int operator*() const { return pos; }
    iterator& operator++() {
      if (pos + 1 == bad) throw std::length_error("cannot advance to " + std::to_string(bad));
      ++pos;
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& other) const { return pos == other.pos; }
  };
  ThrowingIncrement(int bad, int count) : bad_(bad), count_(count) {}
  iterator begin() const { return {0, bad_}; }
  iterator end() const { return {count_, bad_}; }

 private:
  int bad_, count_;
};
static_assert(std::ranges::input_range<ThrowingIncrement>);

auto throwing_at(int bad, int count) {
  return std::views::iota(0, count) | std::views::transform([bad](int i) {
           if (i == bad) throw std::runtime_error("bad input " + std::to_string(i));
           return i;
         });
}

}  // namespace

// Dereferencing the range throws at input 5: a Failed job carries the error, the jobs before it
// are fine, and the batch ends there.
TEST(Faults, InputRangeThrowingMidWay) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, throwing_at(5, 10), [](int x) { return x; }, {.name = "r"});
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 6u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(jobs[k].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[k].output_as<int>(), std::vector<int>{k});
  }
  EXPECT_EQ(jobs[5].state, rsp::JobState::Failed);
  EXPECT_EQ(jobs[5].input_index, 5u);
  ASSERT_EQ(jobs[5].errors.size(), 1u);
  EXPECT_THAT(jobs[5].errors[0].message, HasSubstr("bad input 5"));
  EXPECT_EQ(jobs[5].errors[0].type, "std::runtime_error");
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
}

// The same with slices of 3: inputs 3 and 4 were read before input 5 threw. They must not
// vanish: they run in a job, or the Failed job covers them.
TEST(Faults, InputRangeThrowingMidSlice) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(
      *pool, throwing_at(5, 10),
      [](std::span<const int> xs) { return std::vector<int>(xs.begin(), xs.end()); },
      {.name = "r", .slice_size = 3});
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_GE(jobs.size(), 2u);
  std::set<int> ran;
  const rsp::ReceivedJob* failed = nullptr;
  for (const auto& job : jobs) {
    if (job.state == rsp::JobState::Completed) {
      for (const auto& part : job.output_as<std::vector<int>>())
        ran.insert(part.begin(), part.end());
    } else {
      EXPECT_EQ(job.state, rsp::JobState::Failed);
      EXPECT_EQ(failed, nullptr) << "more than one Failed job";
      failed = &job;
    }
  }
  ASSERT_NE(failed, nullptr);
  ASSERT_FALSE(failed->errors.empty());
  EXPECT_THAT(failed->errors.back().message, HasSubstr("bad input 5"));
  EXPECT_TRUE(ran.contains(0) && ran.contains(1) && ran.contains(2));
  for (int k : {3, 4}) {
    bool covered = ran.contains(k) ||
                   (failed->input_index <= static_cast<std::size_t>(k) &&
                    static_cast<std::size_t>(k) < failed->input_index + failed->input_count);
    EXPECT_TRUE(covered) << "input " << k << " was read, then neither run nor reported (failed job "
                         << "input_index " << failed->input_index << ", input_count "
                         << failed->input_count << ")";
  }
}

// The iterator's increment throws on the way to input 5: the same as a throwing dereference.
TEST(Faults, InputRangeIncrementThrowing) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, ThrowingIncrement(5, 10),
                                              [](int x) { return x; }, {.name = "r"});
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 6u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(jobs[k].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[k].output_as<int>(), std::vector<int>{k});
  }
  EXPECT_EQ(jobs[5].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[5].errors.size(), 1u);
  EXPECT_THAT(jobs[5].errors[0].message, HasSubstr("cannot advance to 5"));
  EXPECT_EQ(jobs[5].errors[0].type, "std::length_error");
}
