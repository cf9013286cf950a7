// Scenario tests for process runspaces (PoolOptions::isolation = Process): each runspace is a
// worker process running this test program (test_main.cpp starts with rsp::run_as_worker).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>
#include <rsparallel/runspace_crashed.hpp>
#include <rsparallel/script.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::Clock;
using rsp_test::scaled;

namespace {

// Registered at namespace scope: in this process and in its workers alike.
const auto square =
    rsp::register_script("process_pool.square", [](const int& x, rsp::JobContext& ctx) {
      ctx.write_warning("squaring " + std::to_string(x));
      return x * x;
    });
// 1: SIGSEGV, 2: abort(), 3: _exit(3); anything else returns it.
const auto fragile =
    rsp::register_script("process_pool.fragile", [](const int& how, rsp::JobContext& ctx) {
      ctx.write_warning("about to try " + std::to_string(how));
      if (how == 1) {
        std::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would report it and exit 66 instead
        ::raise(SIGSEGV);
      }
      if (how == 2) std::abort();
      if (how == 3) ::_exit(3);
      return how;
    });
// Ignores its stop (no check, no interruption point) for up to a minute.
const auto deaf = rsp::register_script("process_pool.deaf", [](const int& seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  return seconds;
});
const auto worker_pid = rsp::register_script(
    "process_pool.pid", [](const int&) { return static_cast<long>(::getpid()); });
const auto greeting =
    rsp::register_script("process_pool.greeting", [](const std::string& who, rsp::JobContext& ctx) {
      return ctx.runspace().variable<std::string>("greeting") + ", " + who;
    });

// Session hooks: open leaves the worker's pid in the runspace's state; close leaves a file named
// by that pid in the directory the session variable "marker_dir" names.
const auto remember_pid = rsp::register_session_hook(
    "process_pool.remember_pid",
    [](rsp::Runspace& rs) { rs.state() = static_cast<long>(::getpid()); });
const auto leave_marker =
    rsp::register_session_hook("process_pool.leave_marker", [](rsp::Runspace& rs) {
      std::ofstream(std::filesystem::path(rs.variable<std::string>("marker_dir")) /
                    std::to_string(::getpid()))
          << "closed\n";
    });
const auto no_database = rsp::register_session_hook("process_pool.no_database", [](rsp::Runspace&) {
  throw std::runtime_error("no database today");
});
const auto opened_pid = rsp::register_script(
    "process_pool.opened_pid",
    [](const int&, rsp::JobContext& ctx) { return std::any_cast<long>(ctx.runspace().state()); });

std::shared_ptr<rsp::RunspacePool> process_pool(std::size_t runspaces, rsp::PoolOptions more = {}) {
  more.max_runspaces = runspaces;
  more.isolation = rsp::Isolation::Process;
  return rsp::new_runspace_pool(std::move(more));
}

}  // namespace

TEST(ProcessPool, RunsRegisteredScriptsInWorkersAndKeepsTheirStreams) {
  auto pool = process_pool(2);
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 20), square, {.pool = pool});
  ASSERT_EQ(jobs.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(jobs[i].state, rsp::JobState::Completed) << i;
    EXPECT_EQ(jobs[i].output_as<int>(), std::vector<int>{i * i});
    EXPECT_EQ(jobs[i].warnings, std::vector<std::string>{"squaring " + std::to_string(i)});
  }
  auto pids = rsp::outputs_as<long>(
      rsp::invoke_parallel(std::views::iota(0, 4), worker_pid, {.pool = pool}));
  for (long pid : pids) EXPECT_NE(pid, static_cast<long>(::getpid()));
}

TEST(ProcessPool, ACrashEndsOnlyItsJobAndThePoolKeepsWorking) {
  auto pool = process_pool(2);
  const std::vector<std::pair<int, std::string>> crashes = {
      {1, "SIGSEGV"}, {2, "SIGABRT"}, {3, "exited with status 3"}};
  for (const auto& [how, named] : crashes) {
    std::vector<int> inputs(200, 0);
    inputs[50] = how;
    auto jobs = rsp::invoke_parallel(inputs, fragile, {.pool = pool});
    ASSERT_EQ(jobs.size(), 200u);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (i == 50) continue;
      EXPECT_EQ(jobs[i].state, rsp::JobState::Completed) << "input " << i << " after " << named;
    }
    const rsp::ReceivedJob& crashed = jobs[50];
    ASSERT_EQ(crashed.state, rsp::JobState::Failed) << named;
    ASSERT_FALSE(crashed.errors.empty());
    EXPECT_EQ(crashed.errors.back().type, "rsp::RunspaceCrashed");
    EXPECT_NE(crashed.errors.back().message.find(named), std::string::npos)
        << crashed.errors.back().message;
    EXPECT_THROW(std::rethrow_exception(crashed.errors.back().exception), rsp::RunspaceCrashed);
    // Written before the crash, kept.
    EXPECT_EQ(crashed.warnings, std::vector<std::string>{"about to try " + std::to_string(how)});
  }
  EXPECT_EQ(pool->open_runspaces(), 2u);
  EXPECT_TRUE(rsp_test::eventually([] { return rsp_test::children().zombies == 0; }));
}

TEST(ProcessPool, ATimeoutKillsAJobThatIgnoresItsStop) {
  auto pool = process_pool(1, {.stop_grace = 200ms});
  auto start = Clock::now();
  auto hung =
      rsp::new_runspace_job(*pool, std::vector<int>{60}, deaf, {.name = "hung", .timeout = 200ms});
  ASSERT_TRUE(hung.wait_for(scaled(5s)));
  auto after = rsp::invoke_parallel(std::views::iota(0, 50), square, {.pool = pool});
  EXPECT_LT(Clock::now() - start, scaled(20s)) << "the hung worker was not replaced";
  auto jobs = rsp::receive_runspace_job(*pool, {.name = "hung"});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::TimedOut);
  ASSERT_EQ(after.size(), 50u);
  for (const auto& job : after) EXPECT_EQ(job.state, rsp::JobState::Completed);
  EXPECT_EQ(pool->abandoned_runspaces(), 1u);
  EXPECT_TRUE(rsp_test::eventually([] { return rsp_test::children().zombies == 0; }));
}

TEST(ProcessPool, DestroyingAPoolWithAHungWorkerReturnsWithinStopGrace) {
  auto pool = process_pool(1, {.stop_grace = 300ms});
  auto batch = rsp::new_runspace_job(*pool, std::vector<int>{60}, deaf);
  ASSERT_TRUE(rsp_test::eventually([&] { return pool->busy_runspaces() == 1; }));
  auto start = Clock::now();
  pool.reset();
  EXPECT_LT(Clock::now() - start, scaled(300ms) + 2s);
  EXPECT_TRUE(batch.done());
  // No worker left behind, running or unreaped, when the destructor returns.
  rsp_test::Children left = rsp_test::children();
  EXPECT_EQ(left.live + left.zombies, 0);
}

TEST(ProcessPool, AnUnregisteredScriptIsAClearErrorAndNothingRuns) {
  auto pool = process_pool(1);
  try {
    rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int x) { return x; });
    FAIL() << "a lambda was accepted by a process pool";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("register_script"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool->registry().size(), 0u);
  // A registered one still runs on the same pool.
  EXPECT_EQ(rsp::invoke_parallel(std::views::iota(0, 3), square, {.pool = pool}).size(), 3u);
}

TEST(ProcessPool, SessionVariablesReachTheWorkers) {
  rsp::PoolOptions options;
  options.session.variables["greeting"] = std::string("hello");
  auto pool = process_pool(2, std::move(options));
  auto jobs = rsp::invoke_parallel(std::vector<std::string>{"a", "b"}, greeting, {.pool = pool});
  EXPECT_EQ(rsp::outputs_as<std::string>(jobs), (std::vector<std::string>{"hello, a", "hello, b"}));
}

TEST(ProcessPool, SessionThatCannotCrossIsRefusedAtThePool) {
  struct Opaque {};
  rsp::PoolOptions options;
  options.session.variables["handle"] = Opaque{};
  try {
    process_pool(1, std::move(options));
    FAIL() << "a variable that cannot cross was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("variables[\"handle\"]"), std::string::npos) << e.what();
  }
  for (bool open : {true, false}) {
    rsp::PoolOptions hooked;
    (open ? hooked.session.open : hooked.session.close) = [](rsp::Runspace&) {};
    try {
      process_pool(1, std::move(hooked));
      FAIL() << "an unregistered session hook was accepted";
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(open ? "session.open" : "session.close"), std::string::npos) << what;
      EXPECT_NE(what.find("register_session_hook"), std::string::npos) << what;
    }
  }
}

TEST(ProcessPool, RegisteredSessionHooksRunInEachWorker) {
  auto dir = std::filesystem::temp_directory_path() / ("rsp_hooks_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::set<long> pids;
  {
    rsp::PoolOptions options;
    options.min_runspaces = 2;
    options.session.open = remember_pid;
    options.session.close = leave_marker;
    options.session.variables["marker_dir"] = dir.string();
    auto pool = process_pool(2, std::move(options));
    auto jobs = rsp::invoke_parallel(std::views::iota(0, 40), opened_pid, {.pool = pool});
    ASSERT_EQ(jobs.size(), 40u);
    for (const auto& job : jobs) {
      ASSERT_EQ(job.state, rsp::JobState::Completed)
          << (job.errors.empty() ? "" : job.errors[0].message);
      pids.insert(job.output_as<long>().at(0));  // open ran in the worker that ran the job
    }
  }  // the pool lets its workers go: each runs its close hook
  EXPECT_FALSE(pids.contains(static_cast<long>(::getpid())));
  std::set<long> closed;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    closed.insert(std::stol(entry.path().filename().string()));
  }
  for (long pid : pids) EXPECT_TRUE(closed.contains(pid)) << "no close hook ran in worker " << pid;
  std::filesystem::remove_all(dir);
}

TEST(ProcessPool, AFailingOpenHookFailsItsRunspacesJobsWithItsError) {
  rsp::PoolOptions options;
  options.session.open = no_database;
  auto pool = process_pool(1, std::move(options));
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 3), square, {.pool = pool});
  ASSERT_EQ(jobs.size(), 3u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Failed);
    ASSERT_FALSE(job.errors.empty());
    EXPECT_NE(job.errors[0].message.find("failed to open: no database today"), std::string::npos)
        << job.errors[0].message;
  }
  auto errors = pool->open_errors();
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("no database today"), std::string::npos) << errors[0];
}

TEST(ProcessPool, MaxJobsPerRunspaceReplacesTheWorker) {
  auto pool = process_pool(1, {.max_jobs_per_runspace = 2});
  auto pids = rsp::outputs_as<long>(
      rsp::invoke_parallel(std::views::iota(0, 6), worker_pid, {.pool = pool}));
  ASSERT_EQ(pids.size(), 6u);
  EXPECT_EQ(std::set<long>(pids.begin(), pids.end()).size(), 3u);
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_NE(pids[1], pids[2]);
}

TEST(ProcessPool, WorkersEndWhenTheCallerIsKilled) {
  // A caller (this binary again, see test_main.cpp) opens a pool of two workers and is then
  // killed outright: no destructor runs, yet its workers must not outlive it.
  auto dir = std::filesystem::temp_directory_path() / ("rsp_caller_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string pids_file = (dir / "pids").string();
  std::vector<std::string> environment;
  for (char** variable = environ; *variable != nullptr; ++variable)
    environment.emplace_back(*variable);
  environment.push_back("RSPARALLEL_TEST_HOLD_POOL=" + pids_file);
  std::vector<char*> envp;
  for (auto& variable : environment) envp.push_back(variable.data());
  envp.push_back(nullptr);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  char* argv[] = {self.data(), nullptr};
  pid_t caller = 0;
  ASSERT_EQ(::posix_spawn(&caller, self.c_str(), nullptr, nullptr, argv, envp.data()), 0);

  auto until = Clock::now() + scaled(30s);
  while (!std::filesystem::exists(pids_file + ".done") && Clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  std::set<long> workers;
  std::ifstream pids(pids_file);
  for (long pid = 0; pids >> pid;) workers.insert(pid);
  ::kill(caller, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(caller, &status, 0), caller);
  ASSERT_EQ(workers.size(), 2u) << "the caller did not report its two workers";

  // Gone, or a zombie waiting for whoever inherited it: either way no longer running.
  until = Clock::now() + scaled(10s);
  for (long pid : workers) {
    while (rsp_test::running(pid) && Clock::now() < until) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(rsp_test::running(pid)) << "worker " << pid << " outlived its killed caller";
  }
  std::filesystem::remove_all(dir);
}
