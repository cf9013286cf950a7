// One worker process: the program's own executable started again with a flag that makes
// rsp::run_as_worker serve jobs over a socket, then killed and reaped here, never left a zombie.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "detail/mutex.hpp"

namespace rsp::process {

/// The descriptors a worker finds its two channels on (protocol.hpp), and the flag that says so:
/// `--rsparallel-worker=<jobs fd>,<control fd>:<parent pid>`.
inline constexpr int kWorkerJobsFd = 3;
inline constexpr int kWorkerControlFd = 4;
inline constexpr std::string_view kWorkerFlag = "--rsparallel-worker=";

/// The pool's ends of a worker's channels: close-on-exec stream sockets.
struct WorkerChannels {
  int jobs = -1;
  int control = -1;
};

/// How a process ended, from a wait status: "exited with status 3",
/// "killed by signal 11 (SIGSEGV)".
std::string describe_wait_status(int status);

/// A running worker process and the pool's ends of its channels.
///
/// The spawn runs on a library thread that lives as long as the program: a worker asks the
/// kernel to kill it when its parent *thread* ends (PR_SET_PDEATHSIG), and a pool's own threads
/// come and go.
///
/// Thread Safety: kill and wait may be called from different threads at once (a reader waits
/// for the end while a deadline kills); release_channels once, by the owner. Distinct objects:
/// safe.
class WorkerProcess {
 public:
  /// Starts `/proc/self/exe --rsparallel-worker=3,4:<pid>` with its stdin on /dev/null. Throws
  /// std::system_error when the system refuses.
  WorkerProcess();
  /// Kills and reaps the process if it has not been reaped; closes the channels if not released.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// The pool's ends of the channels, now owned by the caller.
  WorkerChannels release_channels() noexcept;

  /// SIGKILL, unless the process was already reaped (its pid may then belong to another).
  void kill() noexcept;

  /// Waits for the process to end, reaps it and describes how it ended; later calls return the
  /// same description.
  std::string wait();

  /// The description if the process has ended (reaping it), else nullopt.
  std::optional<std::string> try_wait();

  /// try_wait() until the process ends (reaping it) or `limit` passes (nullopt).
  std::optional<std::string> wait_for(std::chrono::milliseconds limit);

  /// wait(), but kills the process if it has not ended within `limit`.
  std::string wait_or_kill(std::chrono::milliseconds limit);

 private:
  // Reaps the process (waiting for it with `block`); false if it has not ended.
  bool reap_locked(bool block) RSP_REQUIRES(mutex_);

  pid_t pid_ = -1;
  WorkerChannels channels_;
  // Lock order: a leaf. Makes reaping and killing exclusive, so that a kill never reaches a pid
  // that was reaped and may be reused.
  detail::Mutex mutex_;
  bool reaped_ RSP_GUARDED_BY(mutex_) = false;
  std::string description_ RSP_GUARDED_BY(mutex_);  // set once reaped
};

}  // namespace rsp::process
