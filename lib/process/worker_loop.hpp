// The worker process's side of its two channels (protocol.hpp): one Boost.Thread that lives as
// long as the worker reads the jobs channel and runs each job itself, so that a stop can
// interrupt it and a job costs no thread of its own; the calling thread reads the control
// channel and stops the running job when told.
#pragma once

#include <boost/thread/thread.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>

#include "detail/mutex.hpp"
#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::process {

class ChannelSink;

/// Serves one pool until its jobs channel ends or says Bye.
///
/// Thread Safety: run() once, on one thread; jobs run on the loop's own thread.
class WorkerLoop {
 public:
  WorkerLoop(Transport& jobs, Transport& control) : jobs_(jobs), control_(control) {}
  ~WorkerLoop();
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  /// The worker's exit code: 0 at the end of the stream or Bye, 2 for a protocol error. A job
  /// still running at the end is stopped; one that ignores the stop for `kEndGrace` ends the
  /// process at once (_exit), since it cannot be joined.
  int run();

  static constexpr std::chrono::milliseconds kEndGrace{1000};

 private:
  using Clock = std::chrono::steady_clock;

  // On jobs_thread_: reads Hello and Jobs until the end, then wakes run() by closing control.
  void serve_jobs();
  void run_job(Job job);
  // Runs the session's open hook (if named) and answers Hello; false when the pool is gone.
  bool open_session(const std::string& open_hook);
  // Stops job `id` if it is the running one: its stop source, then a Boost.Thread interrupt.
  void stop(JobId id);
  // On watcher_: stops a job that passed the timeout its Job message gave it.
  void watch_timeouts();
  // Ends the jobs thread (stopping its job) and returns `code`; ends the process with `code`
  // (_exit) when the job will not end within kEndGrace.
  int leave(int code);

  Transport& jobs_;
  Transport& control_;
  boost::thread jobs_thread_;
  std::atomic<int> jobs_code_{0};  // the jobs thread's verdict: 2 after a protocol error

  // Only on jobs_thread_.
  std::optional<Runspace> runspace_;
  std::string close_hook_;  // run on this thread when the jobs channel ends
  // Contexts of recent jobs: a thread a job started may still write through one; its writes
  // are dropped, never sent as another job's. Bounded: a stray writer older than this many
  // jobs is not supported.
  std::deque<std::shared_ptr<ChannelSink>> recent_;
  static constexpr std::size_t kRecentContexts = 64;

  // The running job as stop() and the timeout watcher see it. Lock order: a leaf (no user code
  // runs under it: a stop request, which runs the job's stop callbacks, is made after it).
  detail::Mutex mutex_;
  std::condition_variable deadline_changed_;
  JobId current_ RSP_GUARDED_BY(mutex_) = 0;
  std::stop_source stop_ RSP_GUARDED_BY(mutex_);  // a fresh one per job
  Clock::time_point deadline_ RSP_GUARDED_BY(mutex_) = Clock::time_point::max();
  bool timed_out_ RSP_GUARDED_BY(mutex_) = false;
  // A Stop can overtake its Job (they come on different channels): kept for that job's start.
  JobId early_stop_ RSP_GUARDED_BY(mutex_) = 0;
  bool ending_ RSP_GUARDED_BY(mutex_) = false;  // the watcher ends
  std::thread watcher_;                         // started by the first job with a timeout
};

}  // namespace rsp::process
