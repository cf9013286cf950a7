// The pool's side of one worker process: starting it, sending it the session and jobs, stopping
// or killing it, and a reader thread that turns what comes back into events.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "process/worker_process.hpp"

namespace rsp::process {

/// What a worker reports, delivered on the client's reader thread in the order it happened.
/// No library lock is held during a call; a call must not close or destroy its own client.
class WorkerEvents {
 public:
  virtual ~WorkerEvents() = default;
  virtual void on_started(JobId id) = 0;
  virtual void on_stream(StreamRecord record) = 0;
  virtual void on_finished(Finished finished) = 0;
  /// The worker ended without close(): it crashed, was killed, exited, or broke the protocol.
  /// It is reaped by then; `description` says how it ended ("killed by signal 11 (SIGSEGV)").
  /// The last call for this client.
  virtual void on_died(std::string description) = 0;
};

/// Owns one worker process and its channel.
///
/// Thread Safety: start once, first; then send_job, request_stop and kill from any thread;
/// close (or the destructor) once, not from an event callback.
class WorkerClient {
 public:
  explicit WorkerClient(WorkerEvents& events) : events_(events) {}
  /// close() with its default grace.
  ~WorkerClient();
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  /// Spawns the worker, sends it `session` and starts reading. Throws std::system_error when
  /// the system refuses a process, TransportError when it dies at once.
  void start(const Hello& session);

  /// Throws TransportError when the worker is gone (on_died follows, or already came).
  void send_job(const Job& job);
  /// Asks the worker to stop job `id` (a stop request and a Boost.Thread interrupt there);
  /// nothing happens if it is gone.
  void request_stop(JobId id) noexcept;
  /// SIGKILL: on_died follows with "killed by signal 9 (SIGKILL)".
  void kill() noexcept;
  /// Ends the worker in order: Bye, then up to `grace` for it to finish its job and exit,
  /// then SIGKILL. Reaps it; no on_died.
  void close(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }

 private:
  void read();

  WorkerEvents& events_;
  std::unique_ptr<WorkerProcess> process_;
  std::unique_ptr<SocketTransport> transport_;
  std::thread reader_;
  std::atomic<bool> closing_{false};
  std::mutex mutex_;  // guards read_done_
  std::condition_variable read_done_cv_;
  bool read_done_ = false;
};

}  // namespace rsp::process
