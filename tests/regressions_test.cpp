// Scenario tests for defects found by trying the installed library as a user would. Each one
// failed before its fix: the comment above it says how.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "detail/access.hpp"
#include "detail/pool_core.hpp"
#include "detail/registry_core.hpp"
#include "detail/thread_start.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::Clock;
using rsp_test::eventually;
using rsp_test::scaled;

namespace {

// A latch that a Boost interrupt cannot wake: the job blocked on it keeps its runspace busy
// until the test opens it.
class Latch {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, scaled(30s), [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Holds the only handle on a pool; says when dropping it has returned.
struct PoolHolder {
  std::shared_ptr<rsp::RunspacePool> pool;
  std::shared_ptr<std::atomic<bool>> dropped = std::make_shared<std::atomic<bool>>(false);
  ~PoolHolder() {
    auto flag = dropped;
    pool.reset();
    flag->store(true);
  }
};

}  // namespace

// A script holds the last handle on its pool; a forced clear leaves its batch's jobs in the
// pool's queue. The runspace that skips them released the last reference under the pool's own
// mutex, and ~RunspacePool locked it again: the thread hung for ever.
TEST(Regressions, LastPoolHandleDroppedBySkippedJobsDoesNotDeadlock) {
  Latch latch;
  struct OpenOnExit {
    Latch& latch;
    ~OpenOnExit() { latch.open(); }
  } open_on_exit{latch};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 10, .stop_grace = 60s});
  auto blocker = rsp::new_runspace_job(*pool, std::views::iota(0, 1),
                                       [&latch](int) { latch.wait(); }, {.name = "blocker"});
  auto holder = std::make_shared<PoolHolder>();
  holder->pool = pool;
  auto dropped = holder->dropped;
  auto held = rsp::new_runspace_job(*pool, std::views::iota(0, 5), [holder](int i) { return i; },
                                    {.name = "holder"});
  ASSERT_TRUE(eventually([&] { return held.created() == 5 && pool->busy_runspaces() == 1; }));
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "holder", .force = true}), 5u);
  ASSERT_TRUE(held.wait_for(scaled(5s)));
  rsp::clear_runspace_jobs(*pool, {.name = "holder"});  // the registry lets go of the done batch
  auto registry = pool->shared_registry();
  held = {};
  holder.reset();
  pool.reset();  // the queued jobs' script now holds the pool's last handle
  latch.open();
  EXPECT_TRUE(eventually([&] { return dropped->load(); }, 5s));
  EXPECT_TRUE(blocker.wait_for(scaled(5s)));
  auto jobs = rsp::receive_runspace_job(*registry, {.name = "blocker"});
  ASSERT_EQ(jobs.size(), 1u);
}

// Opening runspaces looked for a free index by scanning every runspace for every index: min =
// max = 4,000 took 7.9 s to open, 8,000 took 90 s.
TEST(Regressions, ThousandsOfRunspacesOpenQuickly) {
  const std::size_t count = 4000 / rsp_test::kTimeScale;
  auto start = Clock::now();
  auto pool = rsp::new_runspace_pool({.min_runspaces = count, .max_runspaces = count});
  EXPECT_LT(Clock::now() - start, scaled(2s));
  EXPECT_EQ(pool->open_runspaces(), count);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100), [](int i) { return i; });
  EXPECT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 100u);
}

// When a runspace thread could not start, every feed round tried again and added a message:
// 15,000 jobs left 465,010 entries in open_errors() and ran far slower than the live runspaces
// allowed.
TEST(Regressions, ThreadsThatCannotStartAreReportedOnceNotPerJob) {
  std::atomic<int> allowed{2};
  rsp::detail::ThreadStartFault fault([&] { return allowed.fetch_sub(1) <= 0; });
  auto pool = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = 16});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5000), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(20s)));
  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 5000u);
  for (const auto& job : jobs) ASSERT_EQ(job.state, rsp::JobState::Completed) << job.id;
  EXPECT_LE(pool->open_runspaces(), 2u);
  std::vector<std::string> errors = pool->open_errors();
  ASSERT_FALSE(errors.empty());
  EXPECT_LE(errors.size(), 16u);
  EXPECT_NE(errors.front().find("could not start"), std::string::npos) << errors.front();
}

// The registry indexed jobs by id in a deque trimmed only from its front: while one early job
// stayed (unreceived, or still running), every later job left a slot behind, 16.8 bytes each.
TEST(Regressions, RegistryIndexStaysSmallWhileAnEarlyJobIsHeld) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto kept = rsp::new_runspace_job(*pool, std::views::iota(0, 1), [](int i) { return i; },
                                    {.name = "kept"});
  ASSERT_TRUE(kept.wait_for(scaled(5s)));
  const int count = 100'000;
  rsp::new_runspace_job(*pool, std::views::iota(0, count), [](int i) { return i; },
                        {.name = "stream"});
  std::size_t received =
      rsp::receive_runspace_job(*pool, {.name = "stream"}, [](rsp::ReceivedJob) {});
  EXPECT_EQ(received, static_cast<std::size_t>(count));
  EXPECT_EQ(pool->registry().size(), 1u);
  EXPECT_LT(rsp::detail::Access::core(pool->registry())->index_slots(), 5000u);
}

// A job's context was a local of the runspace reused at the same address for its next job: a
// thread the first job started wrote into the second job after the first had timed out.
TEST(Regressions, LateWriteFromAJobsThreadNeverLandsInTheNextJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = 60s});
  std::thread late;
  std::mutex late_mutex;
  auto next_running = std::make_shared<std::atomic<bool>>(false);
  auto first = rsp::new_runspace_job(*pool, std::views::iota(0, 1),
                                     [&, next_running](int, rsp::JobContext& ctx) {
                                       std::lock_guard lock(late_mutex);
                                       late = std::thread([&ctx, next_running] {
                                         while (!next_running->load())
                                           std::this_thread::sleep_for(1ms);
                                         ctx.write_error("late error from the first job");
                                         ctx.write_output(std::string("late output"));
                                       });
                                       while (!ctx.stop_requested())
                                         std::this_thread::sleep_for(1ms);
                                     },
                                     {.name = "first", .timeout = 20ms});
  ASSERT_TRUE(first.wait_for(scaled(5s)));
  auto second = rsp::new_runspace_job(*pool, std::views::iota(0, 1),
                                      [next_running](int) {
                                        next_running->store(true);
                                        std::this_thread::sleep_for(100ms);
                                        return 7;
                                      },
                                      {.name = "second"});
  ASSERT_TRUE(second.wait_for(scaled(5s)));
  {
    std::lock_guard lock(late_mutex);
    if (late.joinable()) late.join();
  }
  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  ASSERT_EQ(jobs[0].errors.size(), 1u);  // the timeout's record; the late write was dropped
  EXPECT_TRUE(jobs[0].output.empty());
  EXPECT_EQ(jobs[1].state, rsp::JobState::Completed);
  EXPECT_FALSE(jobs[1].had_errors());
  EXPECT_EQ(jobs[1].output_as<int>(), std::vector<int>{7});
}

// write_output of a char array stored a char* into the runspace's stack (only const char*
// became a string); session variables likewise.
TEST(Regressions, CharArraysBecomeStrings) {
  rsp::PoolOptions options{.max_runspaces = 1};
  char greeting[] = "hello";
  options.session.variables["greeting"] = static_cast<char*>(greeting);
  auto pool = rsp::new_runspace_pool(options);
  greeting[0] = 'J';  // the runspaces got their copies when the pool opened
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 1), [](int, rsp::JobContext& ctx) {
    char text[] = "from a char array";
    ctx.write_output(text);
    text[0] = 'X';
    return ctx.runspace().variable<std::string>("greeting");
  });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].state, rsp::JobState::Completed) << jobs[0].errors.front().message;
  EXPECT_EQ(jobs[0].output_as<std::string>(),
            (std::vector<std::string>{"from a char array", "hello"}));
}

namespace {
// A single-pass range whose second read blocks until released (a pipe that went quiet).
class QuietPipe {
 public:
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    QuietPipe* pipe = nullptr;
    int pos = 0;
    int operator*() const { return pos; }
    iterator& operator++() {
      ++pos;
      if (pos == 1) pipe->quiet.wait();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return pos >= 2; }
  };
  iterator begin() { return {this, 0}; }
  std::default_sentinel_t end() { return {}; }
  Latch quiet;
};
}  // namespace

// A forced clear waited a fixed second for jobs finished but not yet published, and so for a
// batch blocked in a read, whatever stop_grace said.
TEST(Regressions, ForcedClearReturnsWithinStopGraceWhileABatchIsBlockedInARead) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .stop_grace = 50ms});
  QuietPipe pipe;
  auto batch = rsp::new_runspace_job(*pool, pipe, [](int i) { return i; }, {.name = "pipe"});
  ASSERT_TRUE(eventually([&] { return batch.created() == 1; }));
  auto start = Clock::now();
  rsp::clear_runspace_jobs(*pool, {.force = true});
  auto took = Clock::now() - start;
  pipe.quiet.open();
  EXPECT_LT(took, scaled(500ms));
  EXPECT_TRUE(batch.wait_for(scaled(5s)));
}

// A forced clear of an id not created yet waited for that job to be created and run, then
// removed it. An id that does not exist yet matches nothing: the clear returns at once.
TEST(Regressions, ForcedClearOfAFutureIdDoesNotWaitForIt) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 3});
  Latch latch;
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 100), [&latch](int i) {
    latch.wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return batch.created() == 3; }));
  auto start = Clock::now();
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = 50, .force = true}), 0u);
  EXPECT_LT(Clock::now() - start, scaled(300ms));
  latch.open();
  EXPECT_TRUE(batch.wait_for(scaled(5s)));
  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 100u);
  EXPECT_EQ(jobs[49].id, 50u);
  EXPECT_EQ(jobs[49].state, rsp::JobState::Completed);
}

namespace {
// Streams `count` trivial jobs named "stream" through a receiver; returns how long it took.
std::chrono::nanoseconds stream_jobs(rsp::RunspacePool& pool, int count, bool keep) {
  auto start = Clock::now();
  rsp::new_runspace_job(pool, std::views::iota(0, count), [](int i) { return i; },
                        {.name = "stream"});
  std::size_t received = rsp::receive_runspace_job(pool, {.name = "stream", .keep = keep},
                                                   [](const rsp::ReceivedJob&) {});
  EXPECT_EQ(received, static_cast<std::size_t>(count));
  return Clock::now() - start;
}
}  // namespace

// Every take and every wake-up scanned all finished jobs in the registry: 20,000 streamed jobs
// took 1.1 s alone and 7.9 s beside 40,000 unreceived jobs of another name. Finished jobs are
// now kept per batch, and a receiver looks only at the batches it covers.
TEST(Regressions, StreamingReceiveIgnoresUnrelatedFinishedJobs) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  const int count = 20'000;
  auto alone = stream_jobs(*pool, count, false);
  auto others = rsp::new_runspace_job(*pool, std::views::iota(0, 40'000), [](int i) { return i; },
                                      {.name = "others"});
  ASSERT_TRUE(others.wait_for(scaled(60s)));
  auto beside = stream_jobs(*pool, count, false);
  EXPECT_LT(beside, 4 * alone + scaled(150ms)) << "alone " << alone.count() / 1000 << " us";
  EXPECT_EQ(pool->registry().size(), 40'000u);
}

// With keep, each wake-up looked at every finished job again: quadratic, 101, 206 and 481 us
// per job at 10,000, 20,000 and 40,000 jobs.
TEST(Regressions, StreamingReceiveWithKeepStaysLinear) {
  auto small_pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto small = stream_jobs(*small_pool, 5'000, true);
  auto large_pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto large = stream_jobs(*large_pool, 20'000, true);
  // Four times the jobs: about four times the time when linear, sixteen when quadratic.
  EXPECT_LT(large, 8 * small + scaled(500ms)) << "5,000 jobs: " << small.count() / 1000 << " us";
}

// Resuming a stream paused for its receiver went through the registry's one feeder thread; a
// batch of another pool blocked in a read held that thread, so the stream stopped after a few
// hundred jobs until the pipe's next line came. Each pool now feeds on its own executor, and a
// range that may block is read on a thread of its own batch.
TEST(Regressions, ABatchBlockedInAReadDoesNotStallAnotherPool) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto quiet_pool = rsp::new_runspace_pool({.max_runspaces = 1, .registry = registry});
  auto busy_pool = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  QuietPipe pipe;
  struct OpenOnExit {
    Latch& latch;
    ~OpenOnExit() { latch.open(); }
  } open_on_exit{pipe.quiet};
  auto blocked = rsp::new_runspace_job(*quiet_pool, pipe, [](int i) { return i; });
  ASSERT_TRUE(eventually([&] { return blocked.created() == 1; }));
  auto start = Clock::now();
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 20'000), [](int i) { return i; },
                                   {.pool = busy_pool});
  auto took = Clock::now() - start;
  EXPECT_EQ(jobs.size(), 20'000u);
  EXPECT_LT(took, scaled(20s));
  EXPECT_EQ(blocked.created(), 1u) << "the quiet pipe was read past its first line";
}

// On one pool, invoke_parallel over 100 numbers returned only when a pipe read by another batch
// of that pool got its next line: the pool's feeder was blocked in that read.
TEST(Regressions, ABatchBlockedInAReadDoesNotStallItsPoolsOtherBatches) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  QuietPipe pipe;
  struct OpenOnExit {
    Latch& latch;
    ~OpenOnExit() { latch.open(); }
  } open_on_exit{pipe.quiet};
  auto blocked = rsp::new_runspace_job(*pool, pipe, [](int i) { return i; }, {.name = "pipe"});
  ASSERT_TRUE(eventually([&] { return blocked.created() == 1; }));
  auto start = Clock::now();
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 100), [](int i) { return i; },
                                   {.name = "numbers", .pool = pool});
  EXPECT_LT(Clock::now() - start, scaled(5s));
  ASSERT_EQ(jobs.size(), 100u);
  EXPECT_EQ(jobs[99].state, rsp::JobState::Completed);
}

// An abandoned runspace's thread held its pool until its job returned: the pool's core (its
// executor, timer and runspace records) outlived the pool, and was destroyed later on that
// thread. The thread now holds only its own runspace while the job's code runs.
TEST(Regressions, AbandonedRunspaceDoesNotHoldItsPool) {
  rsp_test::DeafUntilReleased deaf;
  rsp_test::ReleaseOnExit release{deaf};
  std::weak_ptr<rsp::detail::PoolCore> core;
  {
    auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .stop_grace = 50ms});
    core = rsp::detail::Access::core(*pool);
    auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 1), [deaf](int) { deaf.wait(); });
    ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 1; }));
  }  // the job ignores its stop: its runspace is abandoned
  // (Handlers on the executors hold it for a moment; the abandoned thread for its job's life.)
  EXPECT_TRUE(eventually([&] { return core.expired(); }, 2s))
      << "the abandoned runspace still holds its pool";
}
