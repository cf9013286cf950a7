// Scenario tests for process runspaces at full size: what a user of a process pool
// (PoolOptions::isolation = Process, API.md "Process runspaces") relies on when workers crash or
// hang by the hundred among thousands of good jobs. process_pool_test.cpp checks the same
// promises on a few jobs each; these check that they hold at scale: nothing lost or duplicated,
// no zombie, no descriptor leaked, a hung worker killed, recycling exact.
// Each runspace is a worker process running this test program (test_main.cpp starts with
// rsp::run_as_worker), so the scripts below are registered at namespace scope.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>
#include <rsparallel/runspace_crashed.hpp>
#include <rsparallel/script.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::Clock;
using rsp_test::eventually;
using rsp_test::scaled;

namespace {

// How a misbehaving job ends its worker (or fails to end).
enum Misbehaviour : int { kSegfault = 1, kAbort = 2, kExit3 = 3, kSpin = 4 };

// Ends this (worker) process as `how` says. No core file: hundreds of crashes would write
// hundreds of them (or feed a core handler), and the wait status names the signal either way.
void crash(int how) {
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  if (how == kSegfault) {
    std::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would report it and exit instead
    std::raise(SIGSEGV);
  }
  if (how == kAbort) std::abort();
  if (how == kExit3) ::_exit(3);
}

// Registered at namespace scope: in this process and in its workers alike.
const auto plus_one = rsp::register_script("scenario.plus_one", [](const int& x) { return x + 1; });

// Crashes its worker as `how` says, or spins for ever ignoring its stop (no check, no
// interruption point): only a SIGKILL ends it.
const auto misbehave = rsp::register_script("scenario.misbehave", [](const int& how) {
  crash(how);
  if (how == kSpin) {
    for (;;) std::this_thread::sleep_for(1ms);
  }
  return how;
});

// Input i returns 2 * i, except every 100th (i % 100 == 99), which crashes its worker: by
// SIGSEGV, abort() or _exit(3) in turn.
const auto every_100th_crashes =
    rsp::register_script("scenario.every_100th_crashes", [](const int& i) {
      if (i % 100 == 99) crash(kSegfault + (i / 100) % 3);
      return 2 * i;
    });

const auto worker_pid =
    rsp::register_script("scenario.pid", [](const int&) { return static_cast<long>(::getpid()); });

// Publishes its worker's pid in the file `path` (whole, by a rename), then hangs ignoring its
// stop.
const auto publish_pid_then_hang =
    rsp::register_script("scenario.publish_pid_then_hang", [](const std::string& path) {
      {
        std::ofstream out(path + ".tmp");
        out << ::getpid() << '\n';
      }
      std::filesystem::rename(path + ".tmp", path);
      for (;;) std::this_thread::sleep_for(1ms);
      return 0;
    });

std::shared_ptr<rsp::RunspacePool> process_pool(std::size_t runspaces, rsp::PoolOptions more = {}) {
  more.min_runspaces = runspaces;
  more.max_runspaces = runspaces;
  more.isolation = rsp::Isolation::Process;
  return rsp::new_runspace_pool(std::move(more));
}

// This process's open descriptors, each with what it refers to (for a failure's message).
std::map<int, std::string> open_descriptors() {
  std::map<int, std::string> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    auto target = std::filesystem::read_symlink(entry.path(), error);
    fds[std::stoi(entry.path().filename().string())] = error ? "?" : target.string();
  }
  return fds;
}

std::string describe(const std::map<int, std::string>& fds) {
  std::ostringstream text;
  for (const auto& [fd, target] : fds) text << ' ' << fd << "->" << target;
  return text.str();
}

// Asks the kernel about this process's children without reaping any (WNOWAIT), so that it never
// takes a wait status from the library.
enum class Children { None, AllRunning, SomeZombie };
Children children() {
  siginfo_t info{};
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD ? Children::None : Children::AllRunning;
  }
  return info.si_pid == 0 ? Children::AllRunning : Children::SomeZombie;
}

// Children of this process that are alive (not zombies): the workers of its pools.
int live_children() { return rsp_test::children().live; }

// The process `pid` is gone: ended and reaped (kill(pid, 0) still succeeds on a zombie).
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Receives every job of the pool as it finishes, within `limit` (scaled).
std::vector<rsp::ReceivedJob> receive_all(rsp::RunspacePool& pool,
                                          std::chrono::milliseconds limit = 60s) {
  std::vector<rsp::ReceivedJob> jobs;
  rsp::ReceiveResult result =
      rsp::receive_runspace_job(pool, {.timeout = scaled(limit)},
                                [&](rsp::ReceivedJob job) { jobs.push_back(std::move(job)); });
  EXPECT_TRUE(result.complete) << "not every job finished within " << scaled(limit).count()
                               << " ms: " << result.received << " received";
  return jobs;
}

// The job's last error is a RunspaceCrashed naming `named`.
::testing::AssertionResult crashed_naming(const rsp::ReceivedJob& job, const std::string& named) {
  if (job.state != rsp::JobState::Failed) {
    return ::testing::AssertionFailure() << "job " << job.id << " (input " << job.input_index
                                         << ") is " << rsp::to_string(job.state) << ", not Failed";
  }
  if (job.errors.empty())
    return ::testing::AssertionFailure() << "job " << job.id << " has no error";
  const rsp::ErrorRecord& error = job.errors.back();
  if (error.type != "rsp::RunspaceCrashed" || error.message.find(named) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "job " << job.id << " error [" << error.type << "] " << error.message
           << " is not a RunspaceCrashed naming " << named;
  }
  try {
    std::rethrow_exception(error.exception);
  } catch (const rsp::RunspaceCrashed&) {
    return ::testing::AssertionSuccess();
  } catch (...) {
  }
  return ::testing::AssertionFailure()
         << "job " << job.id << " error holds no rsp::RunspaceCrashed";
}

// The names a crash of each kind must show.
std::string named(int how) {
  switch (how) {
    case kSegfault:
      return "SIGSEGV";
    case kAbort:
      return "SIGABRT";
    default:
      return "status 3";
  }
}

// --- 1. One bad job among 1,000 good ones ------------------------------------------------------

struct BadJob {
  Misbehaviour how;
  const char* label;
};

void PrintTo(const BadJob& bad, std::ostream* out) { *out << bad.label; }

class ProcessIsolationScenarioBadJob : public ::testing::TestWithParam<BadJob> {};

// The bad job goes first, on a pool of 2 workers; the 1,000 good jobs after it all complete with
// their outputs whatever it did to its worker, and it alone fails, saying how its worker ended
// (or, for the spinner, times out and its worker is killed and replaced).
TEST_P(ProcessIsolationScenarioBadJob, EndsOnlyItselfAmongAThousandGoodJobs) {
  const Misbehaviour how = GetParam().how;
  auto pool = process_pool(2, {.stop_grace = scaled(200ms)});
  rsp::new_runspace_job(*pool, std::vector<int>{how}, misbehave,
                        {.name = "bad", .timeout = how == kSpin ? scaled(200ms) : 0ms});
  rsp::new_runspace_job(*pool, std::views::iota(0, 1000), plus_one, {.name = "good"});
  std::vector<rsp::ReceivedJob> jobs = receive_all(*pool);

  std::vector<int> seen(1000, 0);
  std::vector<const rsp::ReceivedJob*> bad;
  for (const rsp::ReceivedJob& job : jobs) {
    if (job.name == "bad") {
      bad.push_back(&job);
      continue;
    }
    ASSERT_LT(job.input_index, seen.size());
    ++seen[job.input_index];
    ASSERT_EQ(job.state, rsp::JobState::Completed)
        << "input " << job.input_index << ": " << (job.errors.empty() ? "" : job.errors[0].message);
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index) + 1});
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "input " << i;
  ASSERT_EQ(bad.size(), 1u);
  if (how == kSpin) {
    EXPECT_EQ(bad[0]->state, rsp::JobState::TimedOut);
    ASSERT_FALSE(bad[0]->errors.empty());
    EXPECT_NE(bad[0]->errors.back().message.find("timed out after"), std::string::npos)
        << bad[0]->errors.back().message;
    // Abandoned stop_grace after the timeout, which may be after every job was received.
    EXPECT_TRUE(eventually([&] { return pool->abandoned_runspaces() == 1; }))
        << pool->abandoned_runspaces() << " runspaces abandoned";
  } else {
    EXPECT_TRUE(crashed_naming(*bad[0], named(how)));
  }
  // An abandoned runspace is replaced in the background, a crashed worker at once.
  EXPECT_TRUE(eventually([&] { return pool->open_runspaces() == 2; }))
      << pool->open_runspaces() << " runspaces open";
  EXPECT_TRUE(eventually([] { return live_children() == 2; }))
      << "the pool did not keep its two workers: " << live_children() << " alive";
}

INSTANTIATE_TEST_SUITE_P(, ProcessIsolationScenarioBadJob,
                         ::testing::Values(BadJob{kSegfault, "Segfault"}, BadJob{kAbort, "Abort"},
                                           BadJob{kExit3, "Exit3"},
                                           BadJob{kSpin, "SpinPastTimeout"}),
                         [](const ::testing::TestParamInfo<BadJob>& info) {
                           return std::string(info.param.label);
                         });

// --- 2. Every input accounted for exactly once --------------------------------------------------

// 2,000 inputs, every 100th crashing its worker: each input comes back exactly once, the 20
// crashed ones Failed naming how their worker ended, every other one Completed with its output,
// none lost or run twice while workers died and were replaced 20 times under a running batch.
TEST(ProcessIsolationScenario, EveryInputComesBackExactlyOnceThoughEvery100thCrashes) {
  constexpr int kInputs = 2000;
  auto pool = process_pool(2);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, kInputs), every_100th_crashes,
                                     {.name = "every_100th"});
  std::vector<rsp::ReceivedJob> jobs = receive_all(*pool);
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(batch.created(), static_cast<std::size_t>(kInputs));

  ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kInputs));
  std::vector<int> seen(kInputs, 0);
  int crashed = 0;
  for (const rsp::ReceivedJob& job : jobs) {
    ASSERT_LT(job.input_index, seen.size());
    ++seen[job.input_index];
    EXPECT_EQ(job.input_count, 1u);
    const int i = static_cast<int>(job.input_index);
    if (i % 100 == 99) {
      ++crashed;
      EXPECT_TRUE(crashed_naming(job, named(kSegfault + (i / 100) % 3))) << "input " << i;
      EXPECT_TRUE(job.output.empty()) << "input " << i;
    } else {
      ASSERT_EQ(job.state, rsp::JobState::Completed)
          << "input " << i << ": " << (job.errors.empty() ? "" : job.errors[0].message);
      EXPECT_EQ(job.output_as<int>(), std::vector<int>{2 * i});
    }
  }
  for (int i = 0; i < kInputs; ++i) EXPECT_EQ(seen[i], 1) << "input " << i;
  EXPECT_EQ(crashed, kInputs / 100);
  EXPECT_EQ(pool->open_runspaces(), 2u);
  EXPECT_TRUE(eventually([] { return live_children() == 2; }))
      << "the pool did not keep its two workers: " << live_children() << " alive";
}

// --- 3. No zombie, no leaked descriptor after 200 crashes ---------------------------------------

// 200 workers crash one after another (SIGSEGV, abort(), _exit(3) in turn): while the pool lives
// no crashed worker is left unreaped, and once it is gone this process has no child left and
// exactly the descriptors it had before (those of the library's one-off helpers, such as the
// thread that spawns workers, opened by a warm-up pool first). Both pools use one registry the
// test holds throughout: a pool's own registry closes its executors' descriptors a moment after
// the pool is gone (on the executor's own thread), which would blur the count taken before.
TEST(ProcessIsolationScenario, TwoHundredCrashesLeaveNoZombieAndNoDescriptor) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  {
    auto warm_up = process_pool(2, {.registry = registry});
    ASSERT_EQ(rsp::outputs_as<int>(
                  rsp::invoke_parallel(std::vector<int>{1, 2}, plus_one, {.pool = warm_up})),
              (std::vector<int>{2, 3}));
  }
  ASSERT_TRUE(eventually([] { return children() == Children::None; }))
      << "a worker of the warm-up pool is left";
  const std::map<int, std::string> before = open_descriptors();

  {
    constexpr int kCrashes = 200;
    auto pool = process_pool(2, {.registry = registry});
    std::vector<int> hows;
    for (int i = 0; i < kCrashes; ++i) hows.push_back(kSegfault + i % 3);
    rsp::new_runspace_job(*pool, hows, misbehave);
    std::vector<rsp::ReceivedJob> jobs = receive_all(*pool);
    ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kCrashes));
    for (const rsp::ReceivedJob& job : jobs) {
      EXPECT_TRUE(crashed_naming(job, named(hows.at(job.input_index))));
    }
    // Every crashed worker was reaped as its job ended; the two live ones are not zombies.
    EXPECT_NE(children(), Children::SomeZombie);
    EXPECT_EQ(pool->open_runspaces(), 2u);
  }

  EXPECT_TRUE(eventually([] { return children() == Children::None; }))
      << "a worker process (running or unreaped) outlived its pool";
  std::map<int, std::string> after;
  EXPECT_TRUE(eventually([&] {
    after = open_descriptors();
    return after.size() == before.size();
  })) << "before:"
      << describe(before) << "\nafter:" << describe(after);
}

// --- 4. Destroying a pool whose worker hangs ----------------------------------------------------

// The job publishes its worker's pid and hangs deaf to its stop. Destroying the pool returns
// within stop_grace and a margin, the job ends Stopped, and that worker is killed and reaped.
TEST(ProcessIsolationScenario, DestroyingAPoolKillsAndReapsTheWorkerOfAHungJob) {
  const std::filesystem::path pid_file = std::filesystem::temp_directory_path() /
                                         ("rsparallel_scenario_pid_" + std::to_string(::getpid()));
  std::filesystem::remove(pid_file);
  const std::chrono::milliseconds stop_grace = scaled(200ms);
  auto pool = process_pool(1, {.stop_grace = stop_grace});
  std::shared_ptr<rsp::JobRegistry> registry = pool->shared_registry();
  auto batch = rsp::new_runspace_job(*pool, std::vector<std::string>{pid_file.string()},
                                     publish_pid_then_hang);
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(pid_file); }, 10s))
      << "the job never started";
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  std::filesystem::remove(pid_file);
  ASSERT_GT(pid, 0);
  ASSERT_NE(pid, ::getpid());
  ASSERT_FALSE(gone(pid)) << "the worker ended before the pool was destroyed";

  auto start = Clock::now();
  pool.reset();
  auto took = Clock::now() - start;
  EXPECT_LT(took, stop_grace + scaled(2s))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_TRUE(batch.done());
  EXPECT_TRUE(eventually([&] { return gone(pid); }, 2s)) << "worker " << pid << " is left";

  std::vector<rsp::ReceivedJob> jobs = rsp::receive_runspace_job(*registry);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Stopped);
}

// --- 5. max_jobs_per_runspace at scale ----------------------------------------------------------

// One runspace replaced after every 10 jobs: 100 jobs see exactly 10 worker processes, each
// serving 10 consecutive jobs and none serving two runs apart.
TEST(ProcessIsolationScenario, MaxJobsPerRunspaceGivesEachWorkerExactlyItsShare) {
  auto pool = process_pool(1, {.max_jobs_per_runspace = 10});
  auto jobs = rsp::invoke_parallel(std::views::iota(0, 100), worker_pid, {.pool = pool});
  std::vector<long> pids = rsp::outputs_as<long>(jobs);
  ASSERT_EQ(pids.size(), 100u);
  std::set<long> distinct;
  for (std::size_t block = 0; block < 10; ++block) {
    const long pid = pids[block * 10];
    EXPECT_NE(pid, static_cast<long>(::getpid()));
    EXPECT_TRUE(distinct.insert(pid).second) << "worker " << pid << " served a second run";
    for (std::size_t i = block * 10; i < block * 10 + 10; ++i) {
      EXPECT_EQ(pids[i], pid) << "job " << i;
    }
  }
  EXPECT_EQ(distinct.size(), 10u);
}

}  // namespace
