// Unit tests of include/rsparallel/job_context.hpp: the streams a running script writes, its
// identity, its stop request, and what an exception escaping it does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <ranges>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::scaled;
using ::testing::HasSubstr;

namespace {

// Blocks, deaf to the Boost interrupt, until a stop is requested (or `limit`, scaled, passes);
// true when it was.
bool wait_for_stop(std::stop_token stop, std::chrono::milliseconds limit = 5s) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  cv.wait_for(lock, stop, scaled(limit), [] { return false; });
  return stop.stop_requested();
}

std::vector<rsp::ReceivedJob> receive_all(rsp::RunspacePool& pool) {
  return rsp::receive_runspace_job(pool, {.wait = true, .timeout = scaled(10s)});
}

struct NotAnException {
  int code = 0;
};

class CustomError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

// ---- streams ---------------------------------------------------------------------------------

TEST(JobContext, EveryStreamIsCollected) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{7}, [](int x, rsp::JobContext& ctx) {
    ctx.write_output(x);
    ctx.write_error("first error");
    ctx.write_warning("warn 1");
    ctx.write_warning("warn 2");
    ctx.write_verbose("verbose 1");
    ctx.write_debug("debug 1");
    ctx.write_information("info 1");
    ctx.write_error("second error");
    ctx.write_output(std::string("after the errors"));
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  const rsp::ReceivedJob& job = jobs[0];
  // Non-terminating errors: the job ran to the end and Completed.
  EXPECT_EQ(job.state, rsp::JobState::Completed);
  EXPECT_TRUE(job.had_errors());
  ASSERT_EQ(job.errors.size(), 2u);
  EXPECT_EQ(job.errors[0].message, "first error");
  EXPECT_EQ(job.errors[0].type, "rsp::WriteError");
  EXPECT_EQ(job.errors[0].exception, nullptr);
  EXPECT_EQ(job.errors[1].message, "second error");
  ASSERT_EQ(job.output.size(), 2u);
  EXPECT_EQ(std::any_cast<int>(job.output[0]), 7);
  EXPECT_EQ(std::any_cast<std::string>(job.output[1]), "after the errors");
  EXPECT_EQ(job.warnings, (std::vector<std::string>{"warn 1", "warn 2"}));
  EXPECT_EQ(job.verbose, (std::vector<std::string>{"verbose 1"}));
  EXPECT_EQ(job.debug, (std::vector<std::string>{"debug 1"}));
  EXPECT_EQ(job.information, (std::vector<std::string>{"info 1"}));
  EXPECT_FALSE(job.progress.has_value());
}

TEST(JobContext, NoErrorsMeansNoHadErrors) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{1}, [](int, rsp::JobContext& ctx) {
    ctx.write_warning("a warning is not an error");
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_FALSE(jobs[0].had_errors());
}

TEST(JobContext, ProgressKeepsTheLastRecordAndClampsPercent) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1, 2}, [](int which, rsp::JobContext& ctx) {
    ctx.write_progress(10, "starting");
    ctx.write_progress(50, "halfway");
    if (which == 0) ctx.write_progress(250, "too far");
    if (which == 1) ctx.write_progress(-30, "negative");
    if (which == 2) ctx.write_progress(75);
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 3u);
  ASSERT_TRUE(jobs[0].progress.has_value());
  EXPECT_EQ(jobs[0].progress->percent, 100);
  EXPECT_EQ(jobs[0].progress->status, "too far");
  ASSERT_TRUE(jobs[1].progress.has_value());
  EXPECT_EQ(jobs[1].progress->percent, 0);
  EXPECT_EQ(jobs[1].progress->status, "negative");
  ASSERT_TRUE(jobs[2].progress.has_value());
  EXPECT_EQ(jobs[2].progress->percent, 75);
  EXPECT_EQ(jobs[2].progress->status, "");
}

TEST(JobContext, ReturnValueFollowsWrittenOutput) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{5}, [](int x, rsp::JobContext& ctx) {
    ctx.write_output(x * 1);
    ctx.write_output(x * 2);
    return x * 3;
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].output_as<int>(), (std::vector<int>{5, 10, 15}));
}

TEST(JobContext, WriteOutputStoresConstCharPointerAsString) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{1}, [](int, rsp::JobContext& ctx) {
    ctx.write_output("literal");
    std::string local = "from a buffer";
    ctx.write_output(local.c_str());
    local = "overwritten";
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].output_as<std::string>(),
            (std::vector<std::string>{"literal", "from a buffer"}));
}

// ---- identity --------------------------------------------------------------------------------

TEST(JobContext, IdAndNameMatchTheReceivedJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  rsp::new_runspace_job(*pool, std::views::iota(0, 9),
                        [](int, rsp::JobContext& ctx) {
                          ctx.write_output(ctx.id());
                          ctx.write_output(ctx.name());
                          ctx.write_output(ctx.runspace().index());
                        },
                        {.name = "identity"});
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 9u);
  for (const auto& job : jobs) {
    ASSERT_EQ(job.output.size(), 3u);
    EXPECT_EQ(std::any_cast<rsp::JobId>(job.output[0]), job.id);
    EXPECT_EQ(std::any_cast<std::string>(job.output[1]), "identity");
    EXPECT_EQ(job.name, "identity");
    EXPECT_LT(std::any_cast<std::size_t>(job.output[2]), 3u);
  }
}

TEST(JobContext, InputIndexIsThePositionOfTheFirstInput) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(100, 110),
                        [](std::span<const int> slice, rsp::JobContext& ctx) {
                          return std::make_pair(ctx.input_index(), slice.front());
                        },
                        {.slice_size = 3});
  rsp::new_runspace_job(
      *pool, std::views::iota(0, 4),
      [](int, rsp::JobContext& ctx) { return std::make_pair(ctx.input_index(), 0); },
      {.name = "single"});
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 8u);
  std::vector<std::size_t> sliced, single;
  for (const auto& job : jobs) {
    auto [index, first] = job.output_as<std::pair<std::size_t, int>>().at(0);
    EXPECT_EQ(index, job.input_index) << job.id;
    if (job.name == "single") {
      single.push_back(index);
    } else {
      sliced.push_back(index);
      EXPECT_EQ(first, 100 + static_cast<int>(index));
    }
  }
  EXPECT_EQ(sliced, (std::vector<std::size_t>{0, 3, 6, 9}));
  EXPECT_EQ(single, (std::vector<std::size_t>{0, 1, 2, 3}));
}

// ---- stops -----------------------------------------------------------------------------------

TEST(JobContext, NotStoppedWithoutARequest) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{1}, [](int, rsp::JobContext& ctx) {
    ctx.check_stop();  // must not throw
    return ctx.stop_requested() || ctx.stop_token().stop_requested();
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_EQ(jobs[0].output_as<bool>(), std::vector<bool>{false});
}

// JobBatch::stop() sets stop_requested, signals stop_token (its callbacks run) and makes
// check_stop throw rsp::JobStopped; the job ends Stopped, not Failed, and its runspace runs the
// next job with no stop pending.
TEST(JobContext, StopReachesTheRunningJob) {
  Gate started, body_done;
  std::atomic<bool> saw_request{false}, callback_ran{false}, check_stop_threw{false};
  std::atomic<bool> wrong_exception{false};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::JobBatch batch = rsp::new_runspace_job(
      *pool, std::vector<int>{1},
      [&](int, rsp::JobContext& ctx) {
        std::stop_callback on_stop(ctx.stop_token(), [&] { callback_ran = true; });
        started.open();
        saw_request = wait_for_stop(ctx.stop_token()) && ctx.stop_requested();
        // request_stop() runs callbacks after the flag is set; a callback not yet started when
        // `on_stop` is destroyed never runs, so wait for it before leaving its scope.
        eventually([&] { return callback_ran.load(); });
        try {
          ctx.check_stop();
        } catch (const rsp::JobStopped&) {
          check_stop_threw = true;
          ctx.write_output(std::string("written after the stop"));
          body_done.open();
          throw;
        } catch (...) {
          wrong_exception = true;
        }
        body_done.open();
      },
      {.name = "to-stop"});
  ASSERT_TRUE(started.wait_for(5s));
  EXPECT_FALSE(batch.done());
  batch.stop();
  ASSERT_TRUE(body_done.wait_for(5s));
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  EXPECT_TRUE(saw_request);
  EXPECT_TRUE(callback_ran);
  EXPECT_TRUE(check_stop_threw);
  EXPECT_FALSE(wrong_exception);

  // The next job on the same (only) runspace sees no stop.
  rsp::new_runspace_job(*pool, std::vector<int>{2},
                        [](int, rsp::JobContext& ctx) {
                          ctx.check_stop();
                          return ctx.stop_requested();
                        },
                        {.name = "next"});

  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].name, "to-stop");
  EXPECT_EQ(jobs[0].state, rsp::JobState::Stopped);
  for (const auto& error : jobs[0].errors) {
    EXPECT_THAT(error.type, ::testing::Not(HasSubstr("JobStopped")))
        << "the stop is reported as a failure: " << error.message;
  }
  EXPECT_TRUE(jobs[0].output.empty()) << "a write after the stop was kept";
  EXPECT_EQ(jobs[1].name, "next");
  EXPECT_EQ(jobs[1].state, rsp::JobState::Completed);
  EXPECT_EQ(jobs[1].output_as<bool>(), std::vector<bool>{false});
}

// A one-input script given a slice checks the stop between inputs: the rest of the slice is not
// run.
TEST(JobContext, StopEndsASliceBetweenInputs) {
  Gate started;
  std::atomic<int> runs{0};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5),
                                              [&](int i, rsp::JobContext& ctx) {
                                                ++runs;
                                                if (i == 0) {
                                                  started.open();
                                                  wait_for_stop(ctx.stop_token());
                                                }
                                              },
                                              {.slice_size = 5});
  ASSERT_TRUE(started.wait_for(5s));
  batch.stop();
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Stopped);
  // The runspace is free again once the slice gave up; no other input ran.
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 0; }, 3s));
  EXPECT_EQ(runs.load(), 1);
}

// ---- exceptions ------------------------------------------------------------------------------

// Whatever a script throws makes its job Failed with one error record describing it, keeps what
// it wrote before, and leaves the runspace to run the next job.
TEST(JobContext, ThrownExceptionsFailTheJobAndTheRunspaceGoesOn) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  std::mutex mutex;
  std::vector<std::thread::id> threads;
  rsp::new_runspace_job(*pool, std::views::iota(0, 7), [&](int kind, rsp::JobContext& ctx) {
    {
      std::lock_guard lock(mutex);
      threads.push_back(std::this_thread::get_id());
    }
    ctx.write_output(kind);
    switch (kind) {
      case 0:
        throw std::runtime_error("runtime trouble");
      case 1:
        throw NotAnException{42};
      case 2:
        throw 17;
      case 3:
        throw std::string("a string was thrown");
      case 4:
        throw CustomError("custom trouble");
      case 5:
        throw "a literal";
      default:
        return kind * 10;
    }
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 7u);
  for (int kind = 0; kind < 6; ++kind) {
    const auto& job = jobs[kind];
    EXPECT_EQ(job.state, rsp::JobState::Failed) << "kind " << kind;
    EXPECT_TRUE(job.had_errors());
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{kind}) << "output before the throw lost";
    ASSERT_EQ(job.errors.size(), 1u) << "kind " << kind;
    ASSERT_NE(job.errors[0].exception, nullptr) << "kind " << kind;
    EXPECT_FALSE(job.errors[0].message.empty()) << "kind " << kind;
    EXPECT_FALSE(job.errors[0].type.empty()) << "kind " << kind;
  }

  const rsp::ErrorRecord& runtime = jobs[0].errors[0];
  EXPECT_EQ(runtime.message, "runtime trouble");
  EXPECT_EQ(runtime.type, "std::runtime_error");
  try {
    std::rethrow_exception(runtime.exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "runtime trouble");
  }

  const rsp::ErrorRecord& custom = jobs[1].errors[0];
  EXPECT_THAT(custom.type, HasSubstr("NotAnException"));
  EXPECT_THAT(custom.message, HasSubstr("NotAnException"));
  try {
    std::rethrow_exception(custom.exception);
  } catch (const NotAnException& e) {
    EXPECT_EQ(e.code, 42);
  }

  const rsp::ErrorRecord& number = jobs[2].errors[0];
  EXPECT_EQ(number.type, "int");
  try {
    std::rethrow_exception(number.exception);
  } catch (int value) {
    EXPECT_EQ(value, 17);
  }

  const rsp::ErrorRecord& text = jobs[3].errors[0];
  EXPECT_EQ(text.type, "std::string");
  EXPECT_EQ(text.message, "a string was thrown");
  try {
    std::rethrow_exception(text.exception);
  } catch (const std::string& value) {
    EXPECT_EQ(value, "a string was thrown");
  }

  // The dynamic type of a std::exception is named, not the base it was caught as.
  const rsp::ErrorRecord& derived = jobs[4].errors[0];
  EXPECT_THAT(derived.type, HasSubstr("CustomError"));
  EXPECT_EQ(derived.message, "custom trouble");
  EXPECT_THROW(std::rethrow_exception(derived.exception), CustomError);

  EXPECT_EQ(jobs[5].errors[0].message, "a literal");

  EXPECT_EQ(jobs[6].state, rsp::JobState::Completed);
  EXPECT_FALSE(jobs[6].had_errors());
  EXPECT_EQ(jobs[6].output_as<int>(), (std::vector<int>{6, 60}));

  // One runspace ran them all, on one thread: no exception closed or replaced it.
  EXPECT_EQ(pool->open_runspaces(), 1u);
  std::lock_guard lock(mutex);
  ASSERT_EQ(threads.size(), 7u);
  for (const auto& thread : threads) EXPECT_EQ(thread, threads.front());
}

// Only an escaping exception fails a job: one the script catches itself changes nothing.
TEST(JobContext, CaughtExceptionDoesNotFailTheJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::vector<int>{1}, [](int x, rsp::JobContext& ctx) {
    try {
      throw std::runtime_error("handled");
    } catch (const std::exception& e) {
      ctx.write_warning(e.what());
    }
    return x;
  });
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_FALSE(jobs[0].had_errors());
  EXPECT_EQ(jobs[0].warnings, std::vector<std::string>{"handled"});
}
