// Real worker processes, started from this test binary (test_main.cpp calls rsp::run_as_worker):
// a job's streams come back as it writes them, stops and timeouts end jobs as on threads, and
// a worker that crashes, exits or hangs is described, killed if need be, and reaped, leaking
// no descriptor.
#include "process/worker_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/thread/thread.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "process/value_codec.hpp"
#include "rsparallel/script.hpp"
#include "support.hpp"

namespace {

namespace proc = rsp::process;
using namespace std::chrono_literals;

struct Opaque {
  int secret = 0;
};

// Registered at namespace scope, so that the worker processes (this binary) have them too.
const auto echo =
    rsp::register_script("worker_test.echo", [](const std::string& word, rsp::JobContext& ctx) {
      ctx.write_warning("warned " + word);
      ctx.write_output(static_cast<int>(word.size()));
      ctx.write_progress(50, "half");
      return ctx.runspace().variable<std::string>("greeting") + " " + word;
    });
const auto segfault = rsp::register_script("worker_test.segfault", [](const int&) {
  // Sanitizers catch SIGSEGV to report it; a plain crash is what this test is about.
  std::signal(SIGSEGV, SIG_DFL);
  std::raise(SIGSEGV);
});
const auto aborts = rsp::register_script("worker_test.abort", [](const int&) { std::abort(); });
const auto exits = rsp::register_script("worker_test.exit3", [](const int&) { ::_exit(3); });
const auto spins = rsp::register_script("worker_test.spin", [](const int&, rsp::JobContext& ctx) {
  ctx.write_verbose("spinning");
  for (;;) std::this_thread::sleep_for(1ms);  // neither checks its stop nor can be interrupted
});
const auto sleeps = rsp::register_script("worker_test.sleep", [](const int&, rsp::JobContext& ctx) {
  ctx.write_verbose("sleeping");
  boost::this_thread::sleep_for(boost::chrono::seconds(60));  // a Boost sleep: interruptible
});
const auto opaque = rsp::register_script(
    "worker_test.opaque", [](const int&, rsp::JobContext& ctx) { ctx.write_output(Opaque{7}); });

// Records what a job writes; tests on other threads wait on it.
class Recorder final : public proc::JobEvents {
 public:
  void on_stream(proc::StreamRecord record) override {
    {
      std::lock_guard lock(mutex);
      streams.push_back(std::move(record));
    }
    cv.notify_all();
  }

  // True once the job wrote `count` records, false after `limit` (scaled).
  bool wait_for_streams(std::size_t count, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, rsp_test::scaled(limit), [&] { return streams.size() >= count; });
  }

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<proc::StreamRecord> streams;
};

proc::Hello session() {
  return proc::Hello{.runspace_index = 1,
                     .variables = {{"greeting", proc::encode_value(std::string("hello"))}}};
}

proc::Job job(rsp::JobId id, std::string script, std::vector<int> inputs,
              std::int64_t timeout_ms = 0) {
  return proc::Job{.id = id,
                   .name = "test",
                   .script = std::move(script),
                   .input_count = inputs.size(),
                   .inputs = rsp::detail::encode_inputs<int>(inputs),
                   .timeout_ms = timeout_ms};
}

// A worker with the test session open.
void start(proc::WorkerClient& client) {
  client.start();
  proc::Opened opened = client.open(session());
  ASSERT_FALSE(opened.has_error) << opened.error_message;
}

bool reaped(pid_t pid) {
  errno = 0;
  return ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++count;
  return count;
}

using End = proc::JobReply::End;

TEST(WorkerClient, OutputsWarningsAndProgressComeBackInOrder) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  std::vector<std::string> words{"world", "you"};
  proc::JobReply reply =
      client.run(proc::Job{.id = 5,
                           .name = "echo",
                           .script = "worker_test.echo",
                           .input_count = 2,
                           .inputs = rsp::detail::encode_inputs<std::string>(words)},
                 events);
  ASSERT_EQ(reply.end, End::Finished);
  EXPECT_EQ(reply.finished.id, 5u);
  EXPECT_EQ(reply.finished.state, rsp::JobState::Completed);
  EXPECT_FALSE(reply.finished.has_error);
  // Per input: warning, output (its size), progress, output (the return value).
  ASSERT_EQ(events.streams.size(), 8u);
  const auto& s = events.streams;
  EXPECT_EQ(s[0].kind, proc::StreamKind::Warning);
  EXPECT_EQ(s[0].payload, "warned world");
  EXPECT_EQ(std::any_cast<int>(proc::decode_value(s[1].payload)), 5);
  EXPECT_EQ(s[2].kind, proc::StreamKind::Progress);
  EXPECT_EQ(s[2].percent, 50);
  EXPECT_EQ(s[2].payload, "half");
  EXPECT_EQ(std::any_cast<std::string>(proc::decode_value(s[3].payload)), "hello world");
  EXPECT_EQ(s[4].payload, "warned you");
  EXPECT_EQ(std::any_cast<std::string>(proc::decode_value(s[7].payload)), "hello you");
  for (const auto& record : s) EXPECT_EQ(record.id, 5u);
}

TEST(WorkerClient, AWorkerRunsJobsOneAfterAnotherAndExitsCleanlyOnClose) {
  proc::WorkerClient client;
  start(client);
  pid_t pid = client.pid();
  for (rsp::JobId id = 1; id <= 3; ++id) {
    Recorder events;
    std::vector<std::string> words{"w" + std::to_string(id)};
    proc::JobReply reply =
        client.run(proc::Job{.id = id,
                             .script = "worker_test.echo",
                             .input_count = 1,
                             .inputs = rsp::detail::encode_inputs<std::string>(words)},
                   events);
    ASSERT_EQ(reply.end, End::Finished);
    EXPECT_EQ(reply.finished.id, id);
    EXPECT_EQ(pid, client.pid());  // the same process each time
  }
  client.close();
  EXPECT_TRUE(reaped(pid));
}

TEST(WorkerClient, UnknownScriptAndUncrossableOutputFailTheJobByName) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  proc::JobReply unknown = client.run(job(1, "worker_test.nobody", {1}), events);
  proc::JobReply opaque_output = client.run(job(2, "worker_test.opaque", {1}), events);
  ASSERT_EQ(unknown.end, End::Finished);
  EXPECT_EQ(unknown.finished.state, rsp::JobState::Failed);
  EXPECT_NE(unknown.finished.error_message.find("'worker_test.nobody'"), std::string::npos)
      << unknown.finished.error_message;
  EXPECT_EQ(unknown.finished.error_type, "std::invalid_argument");
  ASSERT_EQ(opaque_output.end, End::Finished);
  EXPECT_EQ(opaque_output.finished.state, rsp::JobState::Failed);
  EXPECT_NE(opaque_output.finished.error_message.find("Opaque"), std::string::npos)
      << opaque_output.finished.error_message;
}

struct CrashCase {
  const char* script;
  const char* description;
};

class WorkerCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(WorkerCrash, IsDescribedAndReaped) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  pid_t pid = client.pid();
  proc::JobReply reply = client.run(job(9, GetParam().script, {1}), events);
  EXPECT_EQ(reply.end, End::WorkerDied);
  EXPECT_EQ(client.death(), GetParam().description);
  EXPECT_TRUE(reaped(pid));
}

INSTANTIATE_TEST_SUITE_P(
    Process, WorkerCrash,
    testing::Values(CrashCase{"worker_test.segfault", "killed by signal 11 (SIGSEGV)"},
                    CrashCase{"worker_test.abort", "killed by signal 6 (SIGABRT)"},
                    CrashCase{"worker_test.exit3", "exited with status 3"}),
    [](const testing::TestParamInfo<CrashCase>& info) {
      return std::string(info.param.script).substr(sizeof("worker_test.") - 1);
    });

TEST(WorkerClient, AJobSentToAWorkerAlreadyGoneIsNotSent) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  ASSERT_EQ(client.run(job(1, "worker_test.exit3", {1}), events).end, End::WorkerDied);
  // The worker is dead before the next job: that job never started, so the pool may run it on
  // another worker without running it twice.
  EXPECT_EQ(client.run(job(2, "worker_test.echo", {1}), events).end, End::NotSent);
  EXPECT_EQ(client.death(), "exited with status 3");
}

TEST(WorkerClient, DescriptorsStayStableAcrossSpawnAndCrashCycles) {
  auto cycle = [] {
    Recorder events;
    proc::WorkerClient client;
    start(client);
    ASSERT_EQ(client.run(job(1, "worker_test.exit3", {1}), events).end, End::WorkerDied);
    EXPECT_EQ(client.death(), "exited with status 3");
  };
  cycle();  // the first spawn starts the library's spawn thread; count after it
  std::size_t before = open_descriptors();
  for (int i = 0; i < 50; ++i) cycle();
  EXPECT_EQ(open_descriptors(), before);
}

TEST(WorkerClient, ABoostSleepIsInterruptedByAStop) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  auto reply = std::async(std::launch::async,
                          [&] { return client.run(job(3, "worker_test.sleep", {1}), events); });
  ASSERT_TRUE(events.wait_for_streams(1));  // it is sleeping now
  client.request_stop(3);
  ASSERT_EQ(reply.wait_for(rsp_test::scaled(2s)), std::future_status::ready);
  proc::JobReply r = reply.get();
  ASSERT_EQ(r.end, End::Finished);
  EXPECT_EQ(r.finished.state, rsp::JobState::Stopped);
  EXPECT_FALSE(r.finished.has_error);
}

TEST(WorkerClient, AStopThatOvertakesItsJobStillStopsIt) {
  // Stop and Job travel on different channels: a stop sent at once may reach the worker before
  // the job does. It is kept for the job and applied when it starts.
  for (rsp::JobId id = 1; id <= 20; ++id) {
    Recorder events;
    proc::WorkerClient client;
    start(client);
    auto reply = std::async(std::launch::async,
                            [&] { return client.run(job(id, "worker_test.sleep", {1}), events); });
    client.request_stop(id);
    ASSERT_EQ(reply.wait_for(rsp_test::scaled(5s)), std::future_status::ready) << "job " << id;
    proc::JobReply r = reply.get();
    ASSERT_EQ(r.end, End::Finished);
    EXPECT_EQ(r.finished.state, rsp::JobState::Stopped);
  }
}

TEST(WorkerClient, AStaleStopDoesNotReachTheNextJob) {
  proc::WorkerClient client;
  start(client);
  Recorder first;
  ASSERT_EQ(client.run(job(1, "worker_test.echo", {1}), first).end, End::Finished);
  client.request_stop(1);  // too late for job 1
  Recorder second;
  auto reply = std::async(std::launch::async,
                          [&] { return client.run(job(2, "worker_test.sleep", {1}), second); });
  // Job 2 sleeps on, undisturbed, until its own stop.
  EXPECT_EQ(reply.wait_for(rsp_test::scaled(300ms)), std::future_status::timeout);
  client.request_stop(2);
  ASSERT_EQ(reply.wait_for(rsp_test::scaled(2s)), std::future_status::ready);
  EXPECT_EQ(reply.get().finished.state, rsp::JobState::Stopped);
}

TEST(WorkerClient, AJobPastItsTimeoutEndsTimedOut) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  auto started = rsp_test::Clock::now();
  proc::JobReply reply = client.run(job(4, "worker_test.sleep", {1}, 200), events);
  EXPECT_LT(rsp_test::Clock::now() - started, rsp_test::scaled(3s));
  ASSERT_EQ(reply.end, End::Finished);
  EXPECT_EQ(reply.finished.state, rsp::JobState::TimedOut);
  EXPECT_EQ(reply.finished.error_type, "rsp::JobTimedOut");
  EXPECT_EQ(reply.finished.error_message, "timed out after 200 ms");
}

TEST(WorkerClient, AJobIgnoringItsStopIsKilledAndReaped) {
  Recorder events;
  proc::WorkerClient client;
  start(client);
  pid_t pid = client.pid();
  auto reply = std::async(std::launch::async,
                          [&] { return client.run(job(6, "worker_test.spin", {1}), events); });
  ASSERT_TRUE(events.wait_for_streams(1));  // what it wrote before it hung comes back
  client.request_stop(6);
  EXPECT_EQ(reply.wait_for(rsp_test::scaled(300ms)), std::future_status::timeout);
  client.kill();
  ASSERT_EQ(reply.wait_for(rsp_test::scaled(2s)), std::future_status::ready);
  EXPECT_EQ(reply.get().end, End::WorkerDied);
  EXPECT_EQ(client.death(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(events.streams[0].payload, "spinning");
  EXPECT_TRUE(reaped(pid));
}

TEST(WorkerClient, ClosingAfterAKilledJobReapsAtOnce) {
  pid_t pid = 0;
  auto started = rsp_test::Clock::now();
  {
    Recorder events;
    proc::WorkerClient client;
    start(client);
    pid = client.pid();
    auto reply = std::async(std::launch::async,
                            [&] { return client.run(job(7, "worker_test.spin", {1}), events); });
    ASSERT_TRUE(events.wait_for_streams(1));
    client.kill();
    EXPECT_EQ(reply.get().end, End::WorkerDied);
    client.close(500ms);
  }
  EXPECT_LT(rsp_test::Clock::now() - started, rsp_test::scaled(10s));
  EXPECT_TRUE(reaped(pid));
}

}  // namespace
