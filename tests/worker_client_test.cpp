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
const auto sleeps = rsp::register_script("worker_test.sleep", [](const int&) {
  boost::this_thread::sleep_for(boost::chrono::seconds(60));  // a Boost sleep: interruptible
});
const auto opaque = rsp::register_script(
    "worker_test.opaque", [](const int&, rsp::JobContext& ctx) { ctx.write_output(Opaque{7}); });

// Records events; tests wait on them.
class Recorder final : public proc::WorkerEvents {
 public:
  void on_started(rsp::JobId id) override {
    add([&] { started.push_back(id); });
  }
  void on_stream(proc::StreamRecord record) override {
    add([&] { streams.push_back(std::move(record)); });
  }
  void on_finished(proc::Finished f) override {
    add([&] { finished.push_back(std::move(f)); });
  }
  void on_died(std::string description) override {
    add([&] { died = std::move(description); });
  }

  // True once `ready` holds, false after `limit` (scaled).
  bool wait(const std::function<bool()>& ready, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, rsp_test::scaled(limit), ready);
  }

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<rsp::JobId> started;
  std::vector<proc::StreamRecord> streams;
  std::vector<proc::Finished> finished;
  std::optional<std::string> died;

 private:
  template <class Fn>
  void add(Fn fn) {
    {
      std::lock_guard lock(mutex);
      fn();
    }
    cv.notify_all();
  }
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

TEST(WorkerClient, OutputsWarningsAndProgressComeBackInOrder) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  std::vector<std::string> words{"world", "you"};
  client.send_job(proc::Job{.id = 5,
                            .name = "echo",
                            .script = "worker_test.echo",
                            .input_count = 2,
                            .inputs = rsp::detail::encode_inputs<std::string>(words)});
  ASSERT_TRUE(events.wait([&] { return !events.finished.empty(); }));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(events.started, (std::vector<rsp::JobId>{5}));
  EXPECT_EQ(events.finished[0].id, 5u);
  EXPECT_EQ(events.finished[0].state, rsp::JobState::Completed);
  EXPECT_FALSE(events.finished[0].has_error);
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
  EXPECT_FALSE(events.died);
}

TEST(WorkerClient, AWorkerRunsJobsOneAfterAnother) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  for (rsp::JobId id = 1; id <= 3; ++id) {
    std::vector<std::string> words{"w" + std::to_string(id)};
    client.send_job(proc::Job{.id = id,
                              .script = "worker_test.echo",
                              .input_count = 1,
                              .inputs = rsp::detail::encode_inputs<std::string>(words)});
    ASSERT_TRUE(events.wait([&] { return events.finished.size() == id; }));
  }
  pid_t pid = client.pid();
  client.close();
  EXPECT_TRUE(reaped(pid));
  EXPECT_FALSE(events.died);  // an orderly close is not a death
}

TEST(WorkerClient, UnknownScriptAndUncrossableOutputFailTheJobByName) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  client.send_job(job(1, "worker_test.nobody", {1}));
  client.send_job(job(2, "worker_test.opaque", {1}));
  ASSERT_TRUE(events.wait([&] { return events.finished.size() == 2; }));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(events.finished[0].state, rsp::JobState::Failed);
  EXPECT_NE(events.finished[0].error_message.find("'worker_test.nobody'"), std::string::npos)
      << events.finished[0].error_message;
  EXPECT_EQ(events.finished[0].error_type, "std::invalid_argument");
  EXPECT_EQ(events.finished[1].state, rsp::JobState::Failed);
  EXPECT_NE(events.finished[1].error_message.find("Opaque"), std::string::npos)
      << events.finished[1].error_message;
}

struct CrashCase {
  const char* script;
  const char* description;
};

class WorkerCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(WorkerCrash, IsDescribedAndReaped) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  pid_t pid = client.pid();
  client.send_job(job(9, GetParam().script, {1}));
  ASSERT_TRUE(events.wait([&] { return events.died.has_value(); }));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(*events.died, GetParam().description);
  EXPECT_EQ(events.started, (std::vector<rsp::JobId>{9}));
  EXPECT_TRUE(events.finished.empty());
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

TEST(WorkerClient, DescriptorsStayStableAcrossSpawnAndCrashCycles) {
  auto cycle = [] {
    Recorder events;
    proc::WorkerClient client(events);
    client.start(session());
    client.send_job(job(1, "worker_test.exit3", {1}));
    ASSERT_TRUE(events.wait([&] { return events.died.has_value(); }));
  };
  cycle();  // the first spawn starts the library's spawn thread; count after it
  std::size_t before = open_descriptors();
  for (int i = 0; i < 50; ++i) cycle();
  EXPECT_EQ(open_descriptors(), before);
}

TEST(WorkerClient, ABoostSleepIsInterruptedByAStop) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  client.send_job(job(3, "worker_test.sleep", {1}));
  ASSERT_TRUE(events.wait([&] { return !events.started.empty(); }));
  client.request_stop(3);
  ASSERT_TRUE(events.wait([&] { return !events.finished.empty(); }, 2s));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(events.finished[0].state, rsp::JobState::Stopped);
  EXPECT_FALSE(events.finished[0].has_error);
}

TEST(WorkerClient, AJobPastItsTimeoutEndsTimedOut) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  client.send_job(job(4, "worker_test.sleep", {1}, 200));
  ASSERT_TRUE(events.wait([&] { return !events.finished.empty(); }, 3s));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(events.finished[0].state, rsp::JobState::TimedOut);
  EXPECT_EQ(events.finished[0].error_type, "rsp::JobTimedOut");
  EXPECT_EQ(events.finished[0].error_message, "timed out after 200 ms");
}

TEST(WorkerClient, AJobIgnoringItsStopIsKilledAndReaped) {
  Recorder events;
  proc::WorkerClient client(events);
  client.start(session());
  pid_t pid = client.pid();
  client.send_job(job(6, "worker_test.spin", {1}));
  // What it wrote before it hung is there.
  ASSERT_TRUE(events.wait([&] { return !events.streams.empty(); }));
  client.request_stop(6);
  EXPECT_FALSE(events.wait([&] { return !events.finished.empty(); }, 300ms));
  client.kill();
  ASSERT_TRUE(events.wait([&] { return events.died.has_value(); }, 2s));
  std::lock_guard lock(events.mutex);
  EXPECT_EQ(*events.died, "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(events.streams[0].payload, "spinning");
  EXPECT_TRUE(reaped(pid));
}

TEST(WorkerClient, CloseEndsAWorkerWhoseJobIgnoresItsStop) {
  Recorder events;
  pid_t pid = 0;
  auto started = rsp_test::Clock::now();
  {
    proc::WorkerClient client(events);
    client.start(session());
    pid = client.pid();
    client.send_job(job(7, "worker_test.spin", {1}));
    ASSERT_TRUE(events.wait([&] { return !events.started.empty(); }));
    client.close(500ms);
  }
  EXPECT_LT(rsp_test::Clock::now() - started, rsp_test::scaled(10s));
  EXPECT_TRUE(reaped(pid));
  EXPECT_FALSE(events.died);
}

}  // namespace
