// Worker processes as processes: how their end is described, that they end by themselves when
// the pool closes their channel, and that a killed one is reaped, never left a zombie.
#include "process/worker_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "support.hpp"

namespace {

namespace proc = rsp::process;
using namespace std::chrono_literals;

// No child with this pid remains, running or zombie.
bool reaped(pid_t pid) {
  errno = 0;
  return ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

TEST(WorkerProcess, DescribesHowAProcessEnded) {
  // Wait statuses as the kernel encodes them: exit code in bits 8..15, signal in the low bits.
  EXPECT_EQ(proc::describe_wait_status(3 << 8), "exited with status 3");
  EXPECT_EQ(proc::describe_wait_status(0), "exited with status 0");
  EXPECT_EQ(proc::describe_wait_status(SIGSEGV), "killed by signal 11 (SIGSEGV)");
  EXPECT_EQ(proc::describe_wait_status(SIGKILL), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(proc::describe_wait_status(SIGABRT | 0x80), "killed by signal 6 (SIGABRT)");  // core
}

TEST(WorkerProcess, EndsByItselfWhenThePoolClosesTheChannel) {
  proc::WorkerProcess worker;
  proc::WorkerChannels channels = worker.release_channels();
  proc::SocketTransport jobs(channels.jobs), control(channels.control);
  jobs.send(proc::encode(proc::Hello{}));
  jobs.close();
  // Not killed: it saw the end of its channel and exited cleanly.
  EXPECT_EQ(worker.wait_or_kill(rsp_test::scaled(10s)), "exited with status 0");
  EXPECT_TRUE(reaped(worker.pid()));
}

TEST(WorkerProcess, KillIsReportedAndReaped) {
  proc::WorkerProcess worker;
  pid_t pid = worker.pid();
  EXPECT_EQ(worker.try_wait(), std::nullopt);  // serving, waiting for its session
  worker.kill();
  EXPECT_EQ(worker.wait(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(worker.wait(), "killed by signal 9 (SIGKILL)");  // the same, once reaped
  EXPECT_TRUE(reaped(pid));
  worker.kill();  // after the reap: does nothing (the pid may belong to another process)
}

TEST(WorkerProcess, DestroyingARunningWorkerKillsAndReapsIt) {
  pid_t pid = 0;
  {
    proc::WorkerProcess worker;
    pid = worker.pid();
  }
  EXPECT_TRUE(reaped(pid));
}

}  // namespace
