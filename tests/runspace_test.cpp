// Unit tests of include/rsparallel/runspace.hpp: a runspace's own copy of the session variables,
// the errors of Runspace::variable, state() and the open/close hooks of SessionState.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::scaled;
using ::testing::HasSubstr;

namespace {

// Callers arrive and wait until `count` have arrived, a stop is requested or `limit` (scaled)
// passes.
class Meeting {
 public:
  bool arrive_and_wait(std::size_t count, std::stop_token stop,
                       std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(lock, stop, rsp_test::scaled(limit), [&] { return arrived_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::size_t arrived_ = 0;
};

// What an open hook would keep per runspace: a "connection".
struct Connection {
  std::size_t index = 0;
  std::thread::id opened_on;
};

// Thread ids seen by the hooks and the jobs, keyed by runspace index.
struct HookLog {
  std::mutex mutex;
  std::multimap<std::size_t, std::thread::id> opened, ran, closed;
  std::atomic<int> opens{0}, closes{0};

  void add(std::multimap<std::size_t, std::thread::id>& into, std::size_t index) {
    std::lock_guard lock(mutex);
    into.emplace(index, std::this_thread::get_id());
  }
};

rsp::SessionState logged_session(HookLog& log) {
  rsp::SessionState session;
  session.open = [&log](rsp::Runspace& rs) {
    log.add(log.opened, rs.index());
    ++log.opens;
  };
  session.close = [&log](rsp::Runspace& rs) {
    log.add(log.closed, rs.index());
    ++log.closes;
  };
  return session;
}

}  // namespace

// ---- Runspace on its own ---------------------------------------------------------------------

TEST(Runspace, VariableReturnsAReferenceToItsOwnCopy) {
  std::map<std::string, std::any, std::less<>> variables{{"count", std::any(5)}};
  rsp::Runspace first(0, variables);
  rsp::Runspace second(1, variables);
  EXPECT_EQ(first.index(), 0u);
  EXPECT_EQ(second.index(), 1u);

  first.variable<int>("count") += 10;
  EXPECT_EQ(first.variable<int>("count"), 15);
  EXPECT_EQ(second.variable<int>("count"), 5);
  EXPECT_EQ(std::any_cast<int>(variables.at("count")), 5);
  EXPECT_TRUE(first.has_variable("count"));
  EXPECT_FALSE(first.has_variable("other"));
}

TEST(Runspace, MissingVariableNamesTheVariable) {
  rsp::Runspace rs(3, {{"present", std::any(1)}});
  try {
    (void)rs.variable<int>("absent_name");
    FAIL() << "a missing variable did not throw";
  } catch (const rsp::MissingVariable& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("absent_name"));
  }
  EXPECT_THROW((void)rs.variable<int>("absent_name"), std::out_of_range);
}

TEST(Runspace, WrongTypeNamesTheVariableAndBothTypes) {
  rsp::Runspace rs(0, {{"label", std::any(std::string("text"))}});
  try {
    (void)rs.variable<int>("label");
    FAIL() << "a variable read with the wrong type did not throw";
  } catch (const rsp::VariableTypeError& e) {
    std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("label"));
    EXPECT_THAT(what, HasSubstr("int"));
    EXPECT_THAT(what, HasSubstr("std::string"));
    EXPECT_THAT(what, ::testing::Not(HasSubstr("__cxx11")));
  }
  EXPECT_THROW((void)rs.variable<double>("label"), std::bad_any_cast);
  // The variable is untouched by the failed reads.
  EXPECT_EQ(rs.variable<std::string>("label"), "text");
}

TEST(Runspace, ConstCharPointerVariableReadsAsString) {
  rsp::Runspace rs(0, {{"greeting", std::any("hello")}});
  EXPECT_EQ(rs.variable<std::string>("greeting"), "hello");
  EXPECT_THROW((void)rs.variable<const char*>("greeting"), rsp::VariableTypeError);
}

TEST(Runspace, StateStartsEmptyAndKeepsWhatIsStored) {
  rsp::Runspace rs(0, {});
  EXPECT_FALSE(rs.state().has_value());
  rs.state() = std::string("connection");
  EXPECT_EQ(std::any_cast<std::string>(rs.state()), "connection");
}

// ---- Runspaces of a pool ---------------------------------------------------------------------

// Each runspace of a pool reads and changes its own copy: a counter incremented by every job
// counts 1, 2, 3, ... separately on each runspace, and a value written on one runspace is not
// seen by the other.
TEST(Runspace, EachRunspaceOfAPoolHasItsOwnCopy) {
  Meeting both;
  std::mutex mutex;
  std::map<std::size_t, std::vector<int>> counts;  // runspace index -> counter values seen
  std::map<std::size_t, std::string> tags_read;
  std::atomic<bool> met{true};

  rsp::PoolOptions options{.min_runspaces = 2, .max_runspaces = 2};
  options.session.variables["counter"] = 0;
  options.session.variables["tag"] = std::string("initial");
  auto pool = rsp::new_runspace_pool(options);

  auto batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 20), [&](int i, rsp::JobContext& ctx) {
        rsp::Runspace& rs = ctx.runspace();
        int seen = ++rs.variable<int>("counter");
        if (i < 2) {
          // The first two jobs run at once, so on both runspaces: each writes its tag, waits
          // for the other to have written, and reads its own tag back.
          rs.variable<std::string>("tag") = "written-by-" + std::to_string(rs.index());
          if (!both.arrive_and_wait(2, ctx.stop_token())) met = false;
          std::lock_guard lock(mutex);
          tags_read[rs.index()] = rs.variable<std::string>("tag");
        }
        std::lock_guard lock(mutex);
        counts[rs.index()].push_back(seen);
      });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  ASSERT_TRUE(met) << "the first two jobs did not run at once on two runspaces";

  std::lock_guard lock(mutex);
  ASSERT_EQ(counts.size(), 2u);
  std::size_t total = 0;
  for (const auto& [index, values] : counts) {
    EXPECT_LT(index, 2u);
    for (std::size_t k = 0; k < values.size(); ++k) {
      EXPECT_EQ(values[k], static_cast<int>(k) + 1) << "runspace " << index << ", job " << k;
    }
    total += values.size();
  }
  EXPECT_EQ(total, 20u);
  ASSERT_EQ(tags_read.size(), 2u);
  for (const auto& [index, tag] : tags_read) EXPECT_EQ(tag, "written-by-" + std::to_string(index));
  // The pool's own session state is not changed by what the runspaces did to their copies.
  EXPECT_EQ(std::any_cast<int>(pool->options().session.variables.at("counter")), 0);
}

TEST(Runspace, MissingVariableInAJobFailsItNamingTheVariable) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  std::atomic<bool> caught_as_missing{false};
  rsp::new_runspace_job(*pool, std::vector<int>{0, 1}, [&](int i, rsp::JobContext& ctx) {
    if (i == 0) {
      try {
        (void)ctx.runspace().variable<int>("no_such_variable");
      } catch (const rsp::MissingVariable&) {
        caught_as_missing = true;
      }
      return 0;
    }
    return ctx.runspace().variable<int>("no_such_variable");
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(caught_as_missing);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_EQ(jobs[1].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[1].errors.size(), 1u);
  EXPECT_THAT(jobs[1].errors[0].message, HasSubstr("no_such_variable"));
  EXPECT_THAT(jobs[1].errors[0].type, HasSubstr("MissingVariable"));
  EXPECT_THROW(std::rethrow_exception(jobs[1].errors[0].exception), rsp::MissingVariable);
}

TEST(Runspace, WrongTypeInAJobFailsItNamingVariableAndTypes) {
  rsp::PoolOptions options{.max_runspaces = 1};
  options.session.variables["limit"] = 10;
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(*pool, std::vector<int>{0}, [](int, rsp::JobContext& ctx) {
    return ctx.runspace().variable<std::string>("limit");
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_THAT(jobs[0].errors[0].type, HasSubstr("VariableTypeError"));
  EXPECT_THAT(jobs[0].errors[0].message, HasSubstr("limit"));
  EXPECT_THAT(jobs[0].errors[0].message, HasSubstr("int"));
  EXPECT_THAT(jobs[0].errors[0].message, HasSubstr("std::string"));
  EXPECT_THROW(std::rethrow_exception(jobs[0].errors[0].exception), rsp::VariableTypeError);
}

TEST(Runspace, ConstCharPointerSessionVariableReadsAsStringInJobs) {
  rsp::PoolOptions options{.max_runspaces = 2};
  options.session.variables["greeting"] = "hello";  // a const char*
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(*pool, std::vector<std::string>{"ann", "bob"},
                        [](const std::string& who, rsp::JobContext& ctx) {
                          return ctx.runspace().variable<std::string>("greeting") + ", " + who;
                        });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Completed);
  EXPECT_EQ(rsp::outputs_as<std::string>(jobs),
            (std::vector<std::string>{"hello, ann", "hello, bob"}));
}

TEST(Runspace, StateFilledByOpenIsSeenByJobsOnThatRunspace) {
  Meeting all;
  std::atomic<bool> met{true};
  rsp::PoolOptions options{.min_runspaces = 3, .max_runspaces = 3};
  options.session.open = [](rsp::Runspace& rs) {
    rs.state() = Connection{rs.index(), std::this_thread::get_id()};
  };
  auto pool = rsp::new_runspace_pool(options);
  rsp::new_runspace_job(*pool, std::views::iota(0, 12), [&](int i, rsp::JobContext& ctx) {
    if (i < 3 && !all.arrive_and_wait(3, ctx.stop_token())) met = false;
    auto& connection = std::any_cast<Connection&>(ctx.runspace().state());
    return connection.index == ctx.runspace().index() &&
           connection.opened_on == std::this_thread::get_id();
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  EXPECT_TRUE(met);
  ASSERT_EQ(jobs.size(), 12u);
  for (const auto& job : jobs) {
    ASSERT_EQ(job.state, rsp::JobState::Completed) << job.id;
    EXPECT_EQ(job.output_as<bool>(), std::vector<bool>{true}) << job.id;
  }
}

// open, every job and close of one runspace run on that runspace's own thread, and different
// runspaces have different threads, none of them the caller's.
TEST(Runspace, OpenJobsAndCloseRunOnTheRunspacesOwnThread) {
  HookLog log;
  Meeting both;
  std::atomic<bool> met{true};
  {
    rsp::PoolOptions options{.min_runspaces = 2, .max_runspaces = 2};
    options.session = logged_session(log);
    auto pool = rsp::new_runspace_pool(options);
    auto batch =
        rsp::new_runspace_job(*pool, std::views::iota(0, 10), [&](int i, rsp::JobContext& ctx) {
          if (i < 2 && !both.arrive_and_wait(2, ctx.stop_token())) met = false;
          log.add(log.ran, ctx.runspace().index());
        });
    ASSERT_TRUE(batch.wait_for(scaled(10s)));
  }  // the pool closes its runspaces here
  EXPECT_TRUE(met);

  std::lock_guard lock(log.mutex);
  ASSERT_EQ(log.opened.size(), 2u);
  ASSERT_EQ(log.closed.size(), 2u);
  EXPECT_EQ(log.ran.size(), 10u);
  std::set<std::thread::id> threads;
  for (const auto& [index, thread] : log.opened) {
    EXPECT_NE(thread, std::this_thread::get_id());
    threads.insert(thread);
    auto closed = log.closed.find(index);
    ASSERT_NE(closed, log.closed.end()) << "runspace " << index << " never closed";
    EXPECT_EQ(closed->second, thread) << "runspace " << index << " closed on another thread";
  }
  EXPECT_EQ(threads.size(), 2u) << "two runspaces share a thread";
  for (const auto& [index, thread] : log.ran) {
    auto opened = log.opened.find(index);
    ASSERT_NE(opened, log.opened.end());
    EXPECT_EQ(thread, opened->second) << "a job of runspace " << index << " ran on another thread";
  }
}

// Runspaces opened on demand above min_runspaces are closed too when the pool goes, each once.
TEST(Runspace, CloseRunsOnceForEveryOpenedRunspaceWhenThePoolIsDestroyed) {
  HookLog log;
  Meeting all;
  std::atomic<bool> met{true};
  {
    rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 3};
    options.session = logged_session(log);
    auto pool = rsp::new_runspace_pool(options);
    auto batch =
        rsp::new_runspace_job(*pool, std::views::iota(0, 3), [&](int, rsp::JobContext& ctx) {
          if (!all.arrive_and_wait(3, ctx.stop_token())) met = false;
        });
    ASSERT_TRUE(batch.wait_for(scaled(10s)));
    EXPECT_EQ(pool->open_runspaces(), 3u);
    EXPECT_EQ(log.closes.load(), 0) << "closed while the pool is alive and idle_timeout is 60 s";
  }
  EXPECT_TRUE(met);
  EXPECT_EQ(log.opens.load(), 3);
  EXPECT_EQ(log.closes.load(), 3);
  std::lock_guard lock(log.mutex);
  std::multiset<std::thread::id> opened_threads, closed_threads;
  for (const auto& entry : log.opened) opened_threads.insert(entry.second);
  for (const auto& entry : log.closed) closed_threads.insert(entry.second);
  EXPECT_EQ(opened_threads, closed_threads);
}

TEST(Runspace, CloseRunsOnceAfterAnExplicitCloseAndDestruction) {
  HookLog log;
  {
    rsp::PoolOptions options{.min_runspaces = 2, .max_runspaces = 2};
    options.session = logged_session(log);
    auto pool = rsp::new_runspace_pool(options);
    ASSERT_TRUE(eventually([&] { return log.opens.load() == 2; }));
    pool->close();
    EXPECT_EQ(log.closes.load(), 2) << "close() returned before the runspaces closed";
    pool->close();
  }
  EXPECT_EQ(log.opens.load(), 2);
  EXPECT_EQ(log.closes.load(), 2);
}

// Indices stay within 0..max-1, also as runspaces above min close when idle and open again.
TEST(Runspace, IndicesStayWithinZeroToMaxMinusOne) {
  HookLog log;
  std::mutex mutex;
  std::set<std::size_t> seen;
  std::atomic<bool> met{true};
  {
    rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 3, .idle_timeout = 50ms};
    options.session = logged_session(log);
    auto pool = rsp::new_runspace_pool(options);
    for (int round = 0; round < 3; ++round) {
      Meeting all;
      auto batch =
          rsp::new_runspace_job(*pool, std::views::iota(0, 3), [&](int, rsp::JobContext& ctx) {
            if (!all.arrive_and_wait(3, ctx.stop_token())) met = false;
            std::lock_guard lock(mutex);
            seen.insert(ctx.runspace().index());
          });
      ASSERT_TRUE(batch.wait_for(scaled(10s)));
      ASSERT_TRUE(eventually([&] { return pool->open_runspaces() == 1; }))
          << "round " << round << ": idle runspaces did not close";
    }
  }
  EXPECT_TRUE(met);
  EXPECT_EQ(seen, (std::set<std::size_t>{0, 1, 2}));
  std::lock_guard lock(log.mutex);
  EXPECT_GE(log.opened.size(), 7u);  // 1 + 2 per round
  for (const auto& entry : log.opened) EXPECT_LT(entry.first, 3u);
  for (const auto& entry : log.closed) EXPECT_LT(entry.first, 3u);
  EXPECT_EQ(log.opens.load(), log.closes.load());
}
