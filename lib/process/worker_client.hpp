// The pool's side of one worker process: starting it, running a job on it and reading back what
// the job writes, stopping or killing it, and reaping it. The thread that runs a job is the one
// that reads its reply: no reader thread stands between the worker and the runspace.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "process/worker_process.hpp"

namespace rsp::process {

/// What a worker reports while it runs a job, on the thread that called WorkerClient::run.
class JobEvents {
 public:
  virtual void on_stream(StreamRecord record) = 0;

 protected:
  ~JobEvents() = default;
};

/// How a job sent to a worker ended.
struct JobReply {
  enum class End {
    Finished,    // `finished` holds the worker's verdict
    WorkerDied,  // the worker ended while it had the job; death() says how
    NotSent,     // the worker was gone before it could take the job: the job never started
  };
  End end = End::Finished;
  Finished finished;
};

/// Owns one worker process and its channels.
///
/// Thread Safety: start, open, run, death and close from the owning thread, one at a time;
/// request_stop, kill and reap_killed from any thread, also while run waits.
class WorkerClient {
 public:
  WorkerClient() = default;
  /// close() with its default grace.
  ~WorkerClient();
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  /// Spawns the worker. Throws std::system_error when the system refuses a process.
  void start();

  /// Sends `session` and waits until the worker has opened it (its open hook runs there).
  /// Throws TransportError when the worker ends first (death() then says how), ProtocolError
  /// when it answers with something else.
  Opened open(const Hello& session);

  /// Sends `job` and reads until its Finished, passing each stream record the job writes to
  /// `events` as it comes. Records of other jobs (threads an earlier job left behind) are
  /// dropped. A worker that breaks the protocol is killed: WorkerDied.
  JobReply run(const Job& job, JobEvents& events);

  /// Once run said WorkerDied or NotSent: reaps the worker (killing it if it has not ended within
  /// 2 s) and says how it ended ("killed by signal 11 (SIGSEGV)").
  std::string death();

  /// Asks the worker to stop job `id` (a stop request and a Boost.Thread interrupt there);
  /// nothing happens if it is gone or runs another job.
  void request_stop(JobId id) noexcept;
  /// SIGKILL: a run in progress then returns WorkerDied.
  void kill() noexcept;
  /// After kill(): waits up to `limit` for the worker to end, and reaps it, so that no zombie
  /// outlasts the call. From any thread.
  void reap_killed(std::chrono::milliseconds limit) noexcept;
  /// Ends the worker in order: Bye, then up to `grace` for it to exit, then SIGKILL. Reaps it.
  void close(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }

 private:
  std::unique_ptr<WorkerProcess> process_;
  std::unique_ptr<SocketTransport> jobs_;
  std::unique_ptr<SocketTransport> control_;
  std::string trouble_;  // a protocol error that made run kill the worker
  // Killed, or found dead by run: close sends it nothing (it may run after main returned, on an
  // abandoned runspace's thread) and only reaps it.
  std::atomic<bool> gone_{false};
};

}  // namespace rsp::process
