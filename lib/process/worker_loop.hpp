// The worker process's side of the channel: the session it is given, then jobs, each run on a
// Boost.Thread of its own so that a stop can interrupt it, its writes sent as they happen.
#pragma once

#include <boost/thread/thread.hpp>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::process {

class ChannelSink;

/// Serves one pool over `transport` until end of stream or Bye.
///
/// Thread Safety: run() on one thread; jobs run on threads of their own.
class WorkerLoop {
 public:
  explicit WorkerLoop(Transport& transport) : transport_(transport) {}
  ~WorkerLoop();
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  /// The worker's exit code: 0 at the end of the stream or Bye, 2 for a protocol error. A job
  /// still running at the end is stopped; one that ignores the stop for `kEndGrace` ends the
  /// process at once (_exit), since it cannot be joined.
  int run();

  static constexpr std::chrono::milliseconds kEndGrace{1000};

 private:
  // The job on this worker: its thread, its stop, and the watcher of its timeout.
  struct Running {
    JobId id = 0;
    std::stop_source stop;
    boost::thread thread;
    std::thread watcher;  // only for a job with a timeout
    std::mutex mutex;     // guards ended and timed_out
    std::condition_variable ended_cv;
    bool ended = false;
    bool timed_out = false;

    void request_stop();
  };

  void start(Job job);
  void run_job(const Job& job, ChannelSink& sink, Running& running);
  // Joins the current job's threads; with `stop`, stops it first and gives up after `grace`
  // (false: it would not end).
  bool end_current(bool stop, std::chrono::milliseconds grace);
  // Stops and joins the current job and returns `code`; ends the process with `code` (_exit)
  // when the job will not end within kEndGrace.
  int leave(int code);

  Transport& transport_;
  std::optional<Runspace> runspace_;
  std::unique_ptr<Running> current_;
  // Contexts of recent jobs: a thread a job started may still write through one; its writes
  // are dropped, never sent as another job's. Bounded: a stray writer older than this many
  // jobs is not supported.
  std::deque<std::shared_ptr<ChannelSink>> recent_;
  static constexpr std::size_t kRecentContexts = 64;
};

}  // namespace rsp::process
