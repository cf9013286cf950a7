// Every option of API.md out of range, table-driven: each is rejected with std::invalid_argument
// naming Struct::field and the value given, and a rejected call loses nothing already submitted.
// Also wrong types asked of a job's output or of a session variable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <regex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::scaled;
using ::testing::HasSubstr;

namespace {

struct BadOption {
  std::string what;                 // the case, for messages
  std::string field;                // "PoolOptions::min_runspaces"
  std::vector<std::string> values;  // numbers the message must show
  std::function<void(rsp::RunspacePool&)> call;
};

// `value` appears in `text` as a whole number (not inside a longer one).
bool shows_number(const std::string& text, const std::string& value) {
  std::regex number("(^|[^0-9-])" + std::regex_replace(value, std::regex("-"), "\\-") +
                    "($|[^0-9])");
  return std::regex_search(text, number);
}

int square(int x) { return x * x; }

std::vector<BadOption> bad_options() {
  using rsp::PoolOptions;
  auto pool_case = [](std::string what, std::string field, std::vector<std::string> values,
                      PoolOptions options) {
    return BadOption{std::move(what), std::move(field), std::move(values),
                     [options](rsp::RunspacePool& pool) {
                       PoolOptions given = options;
                       given.registry = pool.shared_registry();  // would share the jobs' registry
                       rsp::new_runspace_pool(given);
                     }};
  };
  std::vector<BadOption> cases = {
      pool_case("min_runspaces 0", "PoolOptions::min_runspaces", {"0"}, {.min_runspaces = 0}),
      pool_case("min_runspaces 65536", "PoolOptions::min_runspaces", {"65536"},
                {.min_runspaces = 65536, .max_runspaces = 65535}),
      pool_case("max_runspaces 0", "PoolOptions::max_runspaces", {"0"}, {.max_runspaces = 0}),
      pool_case("max_runspaces 65536", "PoolOptions::max_runspaces", {"65536"},
                {.max_runspaces = 65536}),
      pool_case("min > max", "PoolOptions::", {"7", "3"}, {.min_runspaces = 7, .max_runspaces = 3}),
      pool_case("negative idle_timeout", "PoolOptions::idle_timeout", {"-5"},
                {.idle_timeout = -5ms}),
      pool_case("negative stop_grace", "PoolOptions::stop_grace", {"-250"}, {.stop_grace = -250ms}),
      {"RunspacePool constructor, min_runspaces 0",
       "PoolOptions::min_runspaces",
       {"0"},
       [](rsp::RunspacePool&) { rsp::RunspacePool pool({.min_runspaces = 0}); }},
      {"validate(PoolOptions), max_runspaces 70000",
       "PoolOptions::max_runspaces",
       {"70000"},
       [](rsp::RunspacePool&) { rsp::validate(rsp::PoolOptions{.max_runspaces = 70000}); }},
      {"JobOptions negative timeout",
       "JobOptions::timeout",
       {"-3"},
       [](rsp::RunspacePool& pool) {
         rsp::new_runspace_job(pool, std::vector<int>{1, 2, 3}, square,
                               {.name = "bad", .timeout = -3ms});
       }},
      {"JobOptions negative timeout, shared_ptr pool and initializer list",
       "JobOptions::timeout",
       {"-4"},
       [](rsp::RunspacePool& pool) {
         // A fresh shared_ptr that does not own the pool: the overloads must reject alike.
         std::shared_ptr<rsp::RunspacePool> alias(std::shared_ptr<void>(), &pool);
         rsp::new_runspace_job(alias, {1, 2}, square, {.timeout = -4ms});
       }},
      {"ReceiveOptions negative timeout, vector form, pool",
       "ReceiveOptions::timeout",
       {"-7"},
       [](rsp::RunspacePool& pool) {
         rsp::receive_runspace_job(pool, {.wait = true, .timeout = -7ms});
       }},
      {"ReceiveOptions negative timeout, vector form, registry",
       "ReceiveOptions::timeout",
       {"-8"},
       [](rsp::RunspacePool& pool) {
         rsp::receive_runspace_job(pool.registry(), {.timeout = -8ms});
       }},
      {"ReceiveOptions negative timeout, streaming form, pool",
       "ReceiveOptions::timeout",
       {"-9"},
       [](rsp::RunspacePool& pool) {
         rsp::receive_runspace_job(pool, {.timeout = -9ms}, [](rsp::ReceivedJob) {});
       }},
      {"ReceiveOptions negative timeout, streaming form, registry",
       "ReceiveOptions::timeout",
       {"-10"},
       [](rsp::RunspacePool& pool) {
         rsp::receive_runspace_job(pool.registry(), {.timeout = -10ms},
                                   [](const rsp::ReceivedJob&) {});
       }},
      {"ParallelOptions negative timeout",
       "ParallelOptions::timeout",
       {"-11"},
       [](rsp::RunspacePool& pool) {
         std::shared_ptr<rsp::RunspacePool> alias(std::shared_ptr<void>(), &pool);
         rsp::invoke_parallel(std::vector<int>{1, 2}, square, {.timeout = -11ms, .pool = alias});
       }},
      {"ParallelOptions negative timeout, own pool",
       "ParallelOptions::timeout",
       {"-12"},
       [](rsp::RunspacePool&) {
         rsp::invoke_parallel(std::vector<int>{1, 2}, square, {.timeout = -12ms});
       }},
      {"ParallelOptions max_running 65536",
       "ParallelOptions::max_running",
       {"65536"},
       [](rsp::RunspacePool& pool) {
         std::shared_ptr<rsp::RunspacePool> alias(std::shared_ptr<void>(), &pool);
         rsp::invoke_parallel(std::vector<int>{1, 2}, square,
                              {.max_running = 65536, .pool = alias});
       }},
      {"ParallelOptions max_running 65536, own pool",
       "ParallelOptions::max_running",
       {"65536"},
       [](rsp::RunspacePool&) {
         rsp::invoke_parallel(std::views::iota(0, 3), square, {.max_running = 65536});
       }},
  };
  return cases;
}

}  // namespace

TEST(BadInput, EveryOptionOutOfRangeIsRejectedNamingFieldAndValue) {
  // The jobs submitted before the bad calls: none may be lost by them.
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 4});
  const int kJobs = 40;
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), square, {.name = "before"});
  // One already received, so that the registry holds jobs in every state.
  ASSERT_TRUE(rsp_test::eventually([&] {
    std::optional<rsp::JobState> first = pool->registry().state(1);
    return first && rsp::is_finished(*first);
  }));
  std::vector<rsp::ReceivedJob> received = rsp::receive_runspace_job(*pool, {.id = rsp::JobId{1}});
  ASSERT_EQ(received.size(), 1u);

  for (const BadOption& bad : bad_options()) {
    SCOPED_TRACE(bad.what);
    try {
      bad.call(*pool);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      std::string message = e.what();
      EXPECT_THAT(message, HasSubstr(bad.field));
      for (const std::string& value : bad.values) {
        EXPECT_TRUE(shows_number(message, value)) << "'" << message << "' does not show " << value;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw " << rsp::type_name(typeid(e)) << ": " << e.what();
    }
  }

  // Nothing was lost: every job of the batch is still there to receive, exactly once.
  std::vector<rsp::ReceivedJob> rest =
      rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  received.insert(received.end(), rest.begin(), rest.end());
  ASSERT_TRUE(batch.done());
  EXPECT_EQ(batch.created(), static_cast<std::size_t>(kJobs));
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kJobs));
  std::set<int> squares;
  for (const rsp::ReceivedJob& job : received) {
    EXPECT_EQ(job.state, rsp::JobState::Completed) << "job " << job.id;
    EXPECT_EQ(job.name, "before");
    for (int v : job.output_as<int>()) squares.insert(v);
  }
  std::set<int> want;
  for (int i = 0; i < kJobs; ++i) want.insert(i * i);
  EXPECT_EQ(squares, want);
  EXPECT_EQ(pool->registry().size(), 0u);
  // And a rejected new_runspace_job made no batch: nothing of the name "bad" was ever created.
  EXPECT_EQ(pool->registry().next_id(), rsp::JobId{kJobs + 1});
}

// The bounds themselves are accepted, so the rejections above are about the value.
TEST(BadInput, BoundsAreAccepted) {
  EXPECT_NO_THROW(rsp::validate(rsp::PoolOptions{.min_runspaces = 65535, .max_runspaces = 65535}));
  EXPECT_NO_THROW(rsp::validate(rsp::PoolOptions{.min_runspaces = 1, .max_runspaces = 1}));
  EXPECT_NO_THROW(rsp::validate(rsp::PoolOptions{.idle_timeout = 0ms, .stop_grace = 0ms}));
  EXPECT_NO_THROW(rsp::validate(rsp::JobOptions{.timeout = 0ms}));
  EXPECT_NO_THROW(rsp::validate(rsp::ReceiveOptions{.timeout = 0ms}));
  EXPECT_NO_THROW(rsp::validate(rsp::ParallelOptions{.max_running = 65535}));
}

// A rejected receive, streaming or not, takes no job: a later receive gets them all.
TEST(BadInput, RejectedStreamingReceiveLosesNothing) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 10), square);
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  int handed = 0;
  EXPECT_THROW(
      rsp::receive_runspace_job(*pool, {.timeout = -1ms}, [&](rsp::ReceivedJob&&) { ++handed; }),
      std::invalid_argument);
  EXPECT_THROW(rsp::receive_runspace_job(*pool, {.timeout = -1ms, .keep = true}),
               std::invalid_argument);
  EXPECT_EQ(handed, 0);
  EXPECT_EQ(pool->registry().size(), 10u);
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 10u);
}

TEST(BadInput, WrongOutputTypeNamesTheJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, {21}, [](int x) { return x * 2; }, {.name = "answers"});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].output_as<int>(), std::vector<int>{42});
  try {
    jobs[0].output_as<std::string>();
    FAIL() << "output_as<std::string> of an int accepted";
  } catch (const rsp::OutputTypeError& e) {
    std::string message = e.what();
    EXPECT_THAT(message, HasSubstr(std::to_string(jobs[0].id)));
    EXPECT_THAT(message, HasSubstr("answers"));
    EXPECT_THAT(message, HasSubstr("int"));
    EXPECT_THAT(message, HasSubstr("std::string"));
  }
  EXPECT_THROW(jobs[0].output_as<long>(), std::bad_any_cast);
  EXPECT_THROW(rsp::outputs_as<double>(jobs), rsp::OutputTypeError);
}

TEST(BadInput, MissingOrWrongTypedVariableFailsTheJobNamingIt) {
  rsp::PoolOptions options{.max_runspaces = 1};
  options.session.variables["limit"] = 10;
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(
      *pool, {0}, [](int, rsp::JobContext& ctx) { return ctx.runspace().variable<int>("limt"); },
      {.name = "missing"});
  rsp::new_runspace_job(
      *pool, {0},
      [](int, rsp::JobContext& ctx) { return ctx.runspace().variable<std::string>("limit"); },
      {.name = "wrong-type"});
  rsp::new_runspace_job(
      *pool, {0}, [](int, rsp::JobContext& ctx) { return ctx.runspace().variable<int>("limit"); },
      {.name = "right"});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(jobs.size(), 3u);

  EXPECT_EQ(jobs[0].name, "missing");
  EXPECT_EQ(jobs[0].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_EQ(jobs[0].errors[0].type, "rsp::MissingVariable");
  EXPECT_THAT(jobs[0].errors[0].message, HasSubstr("'limt'"));
  EXPECT_THROW(std::rethrow_exception(jobs[0].errors[0].exception), rsp::MissingVariable);

  EXPECT_EQ(jobs[1].name, "wrong-type");
  EXPECT_EQ(jobs[1].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[1].errors.size(), 1u);
  EXPECT_EQ(jobs[1].errors[0].type, "rsp::VariableTypeError");
  EXPECT_THAT(jobs[1].errors[0].message, HasSubstr("'limit'"));
  EXPECT_THAT(jobs[1].errors[0].message, HasSubstr("int"));
  EXPECT_THAT(jobs[1].errors[0].message, HasSubstr("std::string"));
  EXPECT_THROW(std::rethrow_exception(jobs[1].errors[0].exception), std::bad_any_cast);

  EXPECT_EQ(jobs[2].state, rsp::JobState::Completed);
  EXPECT_EQ(jobs[2].output_as<int>(), std::vector<int>{10});
}

// The largest values an option takes are not out of range: a timeout or grace of
// milliseconds::max() means no limit (it must not overflow into "already expired"), and a slice
// or queue of SIZE_MAX means one job for everything, or no bound.
TEST(BadInput, LargestValuesMeanNoLimit) {
  constexpr auto kForever = std::chrono::milliseconds::max();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2,
                                      .max_queue = SIZE_MAX,
                                      .idle_timeout = kForever,
                                      .stop_grace = kForever});
  rsp::JobBatch timed = rsp::new_runspace_job(*pool, std::views::iota(0, 4),
                                              [](int x) {
                                                std::this_thread::sleep_for(30ms);
                                                return x;
                                              },
                                              {.name = "forever", .timeout = kForever});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = kForever});
  ASSERT_EQ(jobs.size(), 4u) << "a wait of milliseconds::max() gave up at once";
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Completed)
        << "timeout of milliseconds::max(): " << rsp::to_string(job.state);
  }
  // The streaming form too.
  rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int x) {
    std::this_thread::sleep_for(30ms);
    return x;
  });
  std::size_t streamed =
      rsp::receive_runspace_job(*pool, {.timeout = kForever}, [](rsp::ReceivedJob&&) {});
  EXPECT_EQ(streamed, 3u);

  // One job for all ten inputs.
  std::vector<int> ten(10, 1);
  rsp::JobBatch whole = rsp::new_runspace_job(
      *pool, ten, [](std::span<const int> xs) { return static_cast<int>(xs.size()); },
      {.name = "whole", .slice_size = SIZE_MAX});
  EXPECT_EQ(whole.expected(), std::optional<std::size_t>(1));
  ASSERT_TRUE(whole.wait_for(scaled(5s)));
  EXPECT_EQ(whole.created(), 1u);
  jobs = rsp::receive_runspace_job(*pool, {.name = "whole"});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].input_count, 10u);
  EXPECT_EQ(jobs[0].output_as<int>(), std::vector<int>{10});

  // A stop still reaches a cooperative job, and the pool closes without waiting forever.
  std::atomic<bool> running{false};
  // It runs until stopped; the far cap keeps a lost stop from hanging the close (stop_grace is
  // forever), so the bound below fails instead.
  rsp::JobBatch stoppable = rsp::new_runspace_job(*pool, {0}, [&](int, rsp::JobContext& ctx) {
    running = true;
    auto give_up = std::chrono::steady_clock::now() + scaled(20s);
    while (!ctx.stop_requested() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
    ctx.check_stop();
  });
  ASSERT_TRUE(rsp_test::eventually([&] { return running.load(); }));
  auto t0 = std::chrono::steady_clock::now();
  pool->close();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, scaled(5s));
  EXPECT_TRUE(stoppable.done());

  // invoke_parallel with the largest timeout.
  auto results = rsp::invoke_parallel(std::views::iota(0, 3), square,
                                      {.timeout = kForever, .slice_size = SIZE_MAX});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, rsp::JobState::Completed);
}
