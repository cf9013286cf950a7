// rsp::invoke_parallel (Invoke-Parallel in one call) and rsp::outputs_as.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <boost/thread/thread.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <mutex>
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
using rsp_test::scaled;

namespace {

/// Counts the scripts running at once and keeps the highest count seen.
struct ConcurrencyProbe {
  std::atomic<int> current{0};
  std::atomic<int> peak{0};

  void enter() {
    int now = ++current;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
  void leave() { --current; }
};

/// A file path of its own in the temp dir, removed at the end of the test.
class TempPath {
 public:
  explicit TempPath(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() /
              ("rsp_invoke_" + stem + "_" + std::to_string(::getpid()) + ".csv")) {
    std::filesystem::remove(path_);
  }
  ~TempPath() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (std::size_t at = text.find(separator); at != std::string::npos;
       at = text.find(separator, from)) {
    parts.push_back(text.substr(from, at - from));
    from = at + separator.size();
  }
  parts.push_back(text.substr(from));
  return parts;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// Later inputs sleep less and finish first; the result is still in input order. The steps are
// scaled so that the last input, started late on a loaded machine, still finishes first.
TEST(InvokeParallel, ResultsInInputOrderWhenLaterInputsFinishFirst) {
  constexpr int kInputs = 6;
  auto jobs = rsp::invoke_parallel(std::views::iota(0, kInputs),
                                   [](int i) {
                                     std::this_thread::sleep_for(scaled(40ms) * (kInputs - i));
                                     return i * i;
                                   },
                                   {.name = "inverse", .max_running = kInputs});
  ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kInputs));
  // The premise: the last input really finished before the first.
  ASSERT_LT(jobs.back().finished, jobs.front().finished);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].input_index, i);
    EXPECT_EQ(jobs[i].input_count, 1u);
    EXPECT_EQ(jobs[i].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[i].name, "inverse");
    EXPECT_EQ(jobs[i].output_as<int>(), std::vector<int>{static_cast<int>(i * i)});
  }
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 1, 4, 9, 16, 25}));
}

// Every job is received and cleared: the given pool's registry is empty afterwards.
TEST(InvokeParallel, EveryJobReceivedAndClearedFromGivenPool) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  auto jobs =
      rsp::invoke_parallel(std::views::iota(0, 50), [](int i) { return i + 1; }, {.pool = pool});
  ASSERT_EQ(jobs.size(), 50u);
  std::set<rsp::JobId> ids;
  for (const rsp::ReceivedJob& job : jobs) ids.insert(job.id);
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
  std::vector<int> expected(50);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), expected);
}

// A given pool is reused, kept open and not owned: two calls run on it, it stays usable, and
// jobs of other calls on it are left alone.
TEST(InvokeParallel, GivenPoolReusedNotDestroyed) {
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  // A job of another call, finished and not received: invoke_parallel must not take it.
  rsp::JobBatch other =
      rsp::new_runspace_job(*pool, std::vector<int>{7}, [](int i) { return i; }, {.name = "other"});
  ASSERT_TRUE(other.wait_for(scaled(5s)));

  auto first = rsp::invoke_parallel(std::vector<int>{1, 2, 3}, [](int i) { return i; },
                                    {.name = "first", .pool = pool});
  EXPECT_EQ(pool.use_count(), 1);  // invoke_parallel kept no reference
  auto second = rsp::invoke_parallel(std::vector<int>{4, 5}, [](int i) { return i; },
                                     {.name = "second", .pool = pool});
  EXPECT_EQ(pool.use_count(), 1);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(second.size(), 2u);
  // Same registry: ids go on increasing across the calls.
  EXPECT_GT(second.front().id, first.back().id);
  EXPECT_EQ(rsp::outputs_as<int>(first), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(rsp::outputs_as<int>(second), (std::vector<int>{4, 5}));

  // The pool is open and still runs jobs.
  EXPECT_EQ(pool->open_runspaces(), 2u);
  rsp::JobBatch after =
      rsp::new_runspace_job(*pool, std::vector<int>{9}, [](int i) { return i * 2; });
  EXPECT_TRUE(after.wait_for(scaled(5s)));

  // The other call's job is still there, unreceived.
  auto others = rsp::receive_runspace_job(*pool, {.name = "other"});
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].output_as<int>(), std::vector<int>{7});
}

// slice_size 0: about sqrt(n) inputs per job; a one-input script runs once per input.
TEST(InvokeParallel, AutomaticSliceSizeIsAboutSquareRoot) {
  constexpr int kInputs = 10'000;
  auto jobs = rsp::invoke_parallel(std::views::iota(0, kInputs), [](int i) { return i * 3; },
                                   {.slice_size = 0, .max_running = 2});
  EXPECT_GE(jobs.size(), 80u);
  EXPECT_LE(jobs.size(), 125u);
  std::size_t next = 0;
  for (const rsp::ReceivedJob& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    EXPECT_EQ(job.input_index, next);
    EXPECT_GE(job.input_count, 1u);
    EXPECT_EQ(job.output.size(), job.input_count);
    next += job.input_count;
  }
  EXPECT_EQ(next, static_cast<std::size_t>(kInputs));
  std::vector<int> values = rsp::outputs_as<int>(jobs);
  ASSERT_EQ(values.size(), static_cast<std::size_t>(kInputs));
  for (int i = 0; i < kInputs; ++i) ASSERT_EQ(values[i], i * 3) << "at " << i;
}

// slice_size 0 with a span script: each job gets its whole slice as $args.
TEST(InvokeParallel, AutomaticSliceSizeWithSpanScript) {
  auto jobs = rsp::invoke_parallel(
      std::views::iota(1, 401),
      [](std::span<const int> args) { return std::accumulate(args.begin(), args.end(), 0); },
      {.slice_size = 0, .max_running = 2});
  EXPECT_GE(jobs.size(), 16u);  // sqrt(400) = 20
  EXPECT_LE(jobs.size(), 25u);
  std::vector<int> sums = rsp::outputs_as<int>(jobs);
  EXPECT_EQ(sums.size(), jobs.size());
  EXPECT_EQ(std::accumulate(sums.begin(), sums.end(), 0), 400 * 401 / 2);
}

// max_running 0 = the machine's cores, on the pool invoke_parallel makes.
TEST(InvokeParallel, MaxRunningZeroMeansCores) {
  ConcurrencyProbe probe;
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 16), [&probe](int i) {
    probe.enter();
    std::this_thread::sleep_for(20ms);
    probe.leave();
    return i;
  });
  ASSERT_EQ(jobs.size(), 16u);
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_GE(probe.peak.load(), 1);
  EXPECT_LE(probe.peak.load(), static_cast<int>(cores));
}

// max_running 0 = the machine's cores also on a given pool with more runspaces than cores
// (API.md: ParallelOptions::max_running "0 = the machine's cores").
TEST(InvokeParallel, MaxRunningZeroMeansCoresOnLargerGivenPool) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  auto pool = rsp::new_runspace_pool({.min_runspaces = cores + 4, .max_runspaces = cores + 4});
  ConcurrencyProbe probe;
  auto jobs = rsp::invoke_parallel(std::views::iota(0, static_cast<int>(cores + 4) * 3),
                                   [&probe](int i) {
                                     probe.enter();
                                     std::this_thread::sleep_for(40ms);
                                     probe.leave();
                                     return i;
                                   },
                                   {.pool = pool});
  ASSERT_EQ(jobs.size(), (cores + 4) * 3);
  EXPECT_LE(probe.peak.load(), static_cast<int>(cores));
}

// max_running 3: never more than 3 at once, on its own pool and on a larger given pool. The jobs
// stay long enough (scaled) for two of them to overlap on a loaded machine.
TEST(InvokeParallel, MaxRunningThreeCapsConcurrency) {
  ConcurrencyProbe own;
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 12),
                                   [&own](int i) {
                                     own.enter();
                                     std::this_thread::sleep_for(scaled(40ms));
                                     own.leave();
                                     return i;
                                   },
                                   {.max_running = 3});
  ASSERT_EQ(jobs.size(), 12u);
  EXPECT_LE(own.peak.load(), 3);
  EXPECT_GE(own.peak.load(), 2);  // it does run in parallel

  auto pool = rsp::new_runspace_pool({.min_runspaces = 8, .max_runspaces = 8});
  ConcurrencyProbe given;
  jobs = rsp::invoke_parallel(std::views::iota(0, 12),
                              [&given](int i) {
                                given.enter();
                                std::this_thread::sleep_for(scaled(40ms));
                                given.leave();
                                return i;
                              },
                              {.max_running = 3, .pool = pool});
  ASSERT_EQ(jobs.size(), 12u);
  EXPECT_LE(given.peak.load(), 3);
  EXPECT_GE(given.peak.load(), 2);
}

// A job that throws, one that times out and one that writes an error are all returned with their
// state and errors; invoke_parallel itself throws nothing. The timeout is one the quick jobs beat
// however loaded the machine (scaled); the slow one sleeps until the timeout interrupts it.
TEST(InvokeParallel, FailedAndTimedOutJobsReturnedNotThrown) {
  const std::chrono::milliseconds timeout = scaled(300ms);
  std::vector<rsp::ReceivedJob> jobs;
  auto started = std::chrono::steady_clock::now();
  ASSERT_NO_THROW(jobs = rsp::invoke_parallel(std::views::iota(0, 5),
                                              [](int i, rsp::JobContext& ctx) {
                                                if (i == 1) throw std::runtime_error("boom at 1");
                                                if (i == 2)
                                                  boost::this_thread::sleep_for(
                                                      boost::chrono::seconds(20));
                                                if (i == 3) ctx.write_error("soft error at 3");
                                                return i;
                                              },
                                              {.timeout = timeout, .max_running = 2}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, scaled(10s));
  ASSERT_EQ(jobs.size(), 5u);

  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_FALSE(jobs[0].had_errors());

  EXPECT_EQ(jobs[1].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[1].errors.size(), 1u);
  EXPECT_EQ(jobs[1].errors[0].message, "boom at 1");
  EXPECT_NE(jobs[1].errors[0].type.find("runtime_error"), std::string::npos)
      << jobs[1].errors[0].type;
  EXPECT_TRUE(jobs[1].output.empty());

  EXPECT_EQ(jobs[2].state, rsp::JobState::TimedOut);
  ASSERT_FALSE(jobs[2].errors.empty());
  const std::string timed_out = "timed out after " + std::to_string(timeout.count()) + " ms";
  EXPECT_NE(jobs[2].errors.back().message.find(timed_out), std::string::npos)
      << jobs[2].errors.back().message;
  EXPECT_TRUE(jobs[2].had_errors());

  EXPECT_EQ(jobs[3].state, rsp::JobState::Completed);
  ASSERT_EQ(jobs[3].errors.size(), 1u);
  EXPECT_EQ(jobs[3].errors[0].message, "soft error at 3");
  EXPECT_EQ(jobs[3].output_as<int>(), std::vector<int>{3});

  EXPECT_EQ(jobs[4].state, rsp::JobState::Completed);
  for (std::size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(jobs[i].input_index, i);
}

TEST(InvokeParallel, NegativeTimeoutRejectedNamingTheField) {
  std::atomic<int> ran{0};
  try {
    rsp::invoke_parallel(std::vector<int>{1, 2}, [&ran](int i) { return ++ran + i; },
                         {.timeout = -5ms});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("ParallelOptions::timeout"), std::string::npos) << what;
    EXPECT_NE(what.find("-5"), std::string::npos) << what;
  }
  EXPECT_EQ(ran.load(), 0);
}

TEST(InvokeParallel, MaxRunningAbove65535RejectedNamingTheField) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  std::atomic<int> ran{0};
  try {
    rsp::invoke_parallel(std::vector<int>{1, 2}, [&ran](int i) { return ++ran + i; },
                         {.max_running = 65536, .pool = pool});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("ParallelOptions::max_running"), std::string::npos) << what;
    EXPECT_NE(what.find("65536"), std::string::npos) << what;
  }
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(pool->registry().size(), 0u);  // rejected before any job was made

  // The limit itself is accepted (on a given pool, so no 65535 runspaces are opened).
  auto jobs = rsp::invoke_parallel(std::vector<int>{1, 2}, [](int i) { return i; },
                                   {.max_running = 65535, .pool = pool});
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{1, 2}));
}

TEST(InvokeParallel, InitializerListOverload) {
  auto jobs = rsp::invoke_parallel({3, 1, 2}, [](int i) { return i * 10; }, {.name = "list"});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{30, 10, 20}));
  for (const rsp::ReceivedJob& job : jobs) EXPECT_EQ(job.name, "list");

  // Without options, and with strings.
  auto words = rsp::invoke_parallel({std::string("a"), std::string("bc")},
                                    [](const std::string& s) { return s + s; });
  EXPECT_EQ(rsp::outputs_as<std::string>(words), (std::vector<std::string>{"aa", "bcbc"}));
}

// log_file: a header and one row per job (a job of five inputs is one row).
TEST(InvokeParallel, LogFileHasOneRowPerJob) {
  TempPath log("rows");
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 25), [](int i) { return i; },
                                   {.name = "logged", .slice_size = 5, .log_file = log.path()});
  ASSERT_EQ(jobs.size(), 5u);
  std::string text = read_file(log.path());
  ASSERT_FALSE(text.empty());
  ASSERT_TRUE(text.ends_with("\r\n"));
  std::vector<std::string> lines = split(text.substr(0, text.size() - 2), "\r\n");
  ASSERT_EQ(lines.size(), 6u) << text;
  EXPECT_TRUE(lines[0].starts_with("id,name,state,")) << lines[0];
  std::set<rsp::JobId> logged;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = split(lines[i], ",");
    ASSERT_EQ(fields.size(), 12u) << lines[i];  // API.md's eleven columns, then run
    logged.insert(std::stoull(fields[0]));
    EXPECT_EQ(fields[1], "logged");
    EXPECT_EQ(fields[2], "Completed");
  }
  std::set<rsp::JobId> received;
  for (const rsp::ReceivedJob& job : jobs) received.insert(job.id);
  EXPECT_EQ(logged, received);
}

// show_progress with stderr not a terminal (captured into a file here): nothing is drawn.
TEST(InvokeParallel, ShowProgressDrawsNothingWhenStderrIsNotATerminal) {
  testing::internal::CaptureStderr();
  bool stderr_is_tty = ::isatty(STDERR_FILENO) != 0;
  std::vector<rsp::ReceivedJob> jobs =
      rsp::invoke_parallel(std::views::iota(0, 20),
                           [](int i) {
                             std::this_thread::sleep_for(15ms);
                             return i;
                           },
                           {.max_running = 2, .show_progress = true});
  std::string drawn = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(stderr_is_tty);
  EXPECT_EQ(drawn, "");
  EXPECT_EQ(jobs.size(), 20u);
}

// outputs_as flattens several outputs per job, in job order then output order.
TEST(InvokeParallel, OutputsAsFlattensInOrder) {
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 4), [](int i, rsp::JobContext& ctx) {
    ctx.write_output(i * 100);
    ctx.write_output(i * 100 + 1);
    return i * 100 + 2;  // the return value comes after what was written
  });
  EXPECT_EQ(rsp::outputs_as<int>(jobs),
            (std::vector<int>{0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302}));
  EXPECT_TRUE(rsp::outputs_as<int>(std::vector<rsp::ReceivedJob>{}).empty());

  // A job with no output adds nothing.
  auto quiet = rsp::invoke_parallel({1, 2, 3}, [](int i, rsp::JobContext& ctx) {
    if (i != 2) ctx.write_output(i);
  });
  EXPECT_EQ(rsp::outputs_as<int>(quiet), (std::vector<int>{1, 3}));

  // const char* output is stored as std::string.
  auto texts = rsp::invoke_parallel({0, 1}, [](int i) { return i == 0 ? "zero" : "one"; });
  EXPECT_EQ(rsp::outputs_as<std::string>(texts), (std::vector<std::string>{"zero", "one"}));
}

// outputs_as with a wrong type throws rsp::OutputTypeError (a std::bad_any_cast) naming the job.
TEST(InvokeParallel, OutputsAsWrongTypeThrowsNamingTheJob) {
  auto jobs = rsp::invoke_parallel(
      {0, 1}, [](int i) -> std::any { return i == 0 ? std::any(1) : std::any(2.5); },
      {.name = "mixed"});
  ASSERT_EQ(jobs.size(), 2u);
  try {
    rsp::outputs_as<int>(jobs);
    FAIL() << "no exception";
  } catch (const rsp::OutputTypeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("job " + std::to_string(jobs[1].id)), std::string::npos) << what;
    EXPECT_NE(what.find("mixed"), std::string::npos) << what;
    EXPECT_NE(what.find("double"), std::string::npos) << what;
  }
  EXPECT_THROW(rsp::outputs_as<int>(jobs), std::bad_any_cast);
}

// outputs_as refuses a job that did not complete: positions in the flattened vector would
// otherwise shift silently (input 2 throwing used to give 0 10 30 40).
TEST(InvokeParallel, OutputsAsThrowsNamingAJobThatDidNotComplete) {
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 5), [](int i) {
    if (i == 2) throw std::runtime_error("no 2");
    return i * 10;
  });
  ASSERT_EQ(jobs.size(), 5u);
  ASSERT_EQ(jobs[2].state, rsp::JobState::Failed);
  try {
    (void)rsp::outputs_as<int>(jobs);
    FAIL() << "outputs_as<int> skipped the failed job";
  } catch (const rsp::JobFailed& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("job " + std::to_string(jobs[2].id)), std::string::npos) << what;
    EXPECT_NE(what.find("input 2"), std::string::npos) << what;
    EXPECT_NE(what.find("Failed"), std::string::npos) << what;
    EXPECT_NE(what.find("no 2"), std::string::npos) << what;
  }
  jobs.erase(jobs.begin() + 2);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 10, 30, 40}));
}
