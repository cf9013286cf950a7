// One worker process: the program's own executable started again with a flag that makes
// rsp::run_as_worker serve jobs over a socket, then killed and reaped here, never left a zombie.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace rsp::process {

/// The descriptor a worker finds its channel on, and the flag that says so:
/// `--rsparallel-worker=<fd>:<parent pid>`.
inline constexpr int kWorkerChannelFd = 3;
inline constexpr std::string_view kWorkerFlag = "--rsparallel-worker=";

/// How a process ended, from a wait status: "exited with status 3",
/// "killed by signal 11 (SIGSEGV)".
std::string describe_wait_status(int status);

/// A running worker process and the pool's end of its channel.
///
/// The spawn runs on a library thread that lives as long as the program: a worker asks the
/// kernel to kill it when its parent *thread* ends (PR_SET_PDEATHSIG), and a pool's own threads
/// come and go.
///
/// Thread Safety: kill and wait may be called from different threads at once (a reader waits
/// for the end while a deadline kills); release_channel once, by the owner. Distinct objects:
/// safe.
class WorkerProcess {
 public:
  /// Starts `/proc/self/exe --rsparallel-worker=3:<pid>` with its stdin on /dev/null. Throws
  /// std::system_error when the system refuses.
  WorkerProcess();
  /// Kills and reaps the process if it has not been reaped; closes the channel if not released.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// The pool's end of the channel (a close-on-exec stream socket), now owned by the caller.
  int release_channel() noexcept;

  /// SIGKILL, unless the process was already reaped (its pid may then belong to another).
  void kill() noexcept;

  /// Waits for the process to end, reaps it and describes how it ended; later calls return the
  /// same description.
  std::string wait();

  /// The description if the process has ended (reaping it), else nullopt.
  std::optional<std::string> try_wait();

  /// wait(), but kills the process if it has not ended within `limit`.
  std::string wait_or_kill(std::chrono::milliseconds limit);

 private:
  // Reaps without blocking if it has ended; call with mutex_ held.
  bool reap_locked(bool block);

  pid_t pid_ = -1;
  int channel_ = -1;
  std::mutex mutex_;
  bool reaped_ = false;      // guarded by mutex_
  std::string description_;  // guarded by mutex_; set once reaped
};

}  // namespace rsp::process
