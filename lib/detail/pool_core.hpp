// The pool's shared core: its runspaces (Boost.Thread threads), the queue of created jobs, the
// feeder that pulls inputs as places free, and the deadline watcher.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/thread/thread.hpp>

#include "detail/batch_core.hpp"
#include "detail/job_record.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::detail {

class RegistryCore;

/// One runspace. `mutex` guards the job it runs and everything that targets that job (stop,
/// interrupt, deadline), so a stop meant for one job can never reach the next.
struct RunspaceSlot {
  RunspaceSlot(std::size_t index, std::shared_ptr<const SessionState> session);

  Runspace runspace;
  const std::shared_ptr<const SessionState> session;  // for the close hook of an abandoned thread

  std::mutex mutex;
  boost::thread thread;
  JobPtr current;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool stopping = false;               // the deadline is the stop grace
  bool abandoned = false;              // detached; the thread no longer touches the pool
  std::atomic<bool> executing{false};  // in a job's code now
  std::stop_source stop;               // replaced after a job that used it
};

/// What a locked section lets go of: destroyed after the lock is released, since the last
/// reference to a job or a runspace may run user destructors (a script, an input, a session
/// variable), and the script may hold the last handle on this very pool.
struct Released {
  std::vector<JobPtr> jobs;
  std::vector<std::shared_ptr<RunspaceSlot>> slots;

  bool empty() const noexcept { return jobs.empty() && slots.empty(); }
  void clear() noexcept {
    jobs.clear();
    slots.clear();
  }
};

class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  PoolCore(PoolOptions options, std::shared_ptr<RegistryCore> registry);
  ~PoolCore();

  /// Opens min_runspaces; called once right after construction.
  void start();
  /// Stops everything; idempotent; returns within about stop_grace.
  void shutdown();
  bool closing() const noexcept { return closing_.load(); }

  const PoolOptions& options() const noexcept { return options_; }
  RegistryCore& registry() const noexcept { return *registry_; }
  const std::shared_ptr<RegistryCore>& shared_registry() const noexcept { return registry_; }

  /// A new batch to feed; false (and nothing done) once the pool is closing.
  bool add_batch(const std::shared_ptr<BatchCore>& batch);
  void schedule_feed();

  /// The winner of JobRecord::try_finish calls this: publish, count, free a place. A runspace
  /// passes feed_now = false and feeds right after, on its own thread.
  void publish_finished(const JobPtr& job, JobState previous, bool feed_now = true);
  /// Ends the job Stopped; a running one is also interrupted and given stop_grace.
  void stop_job(const JobPtr& job);

  std::size_t open_runspaces() const;
  std::size_t busy_runspaces() const;
  std::size_t unfinished_jobs() const noexcept { return unfinished_.load(); }
  std::size_t abandoned_runspaces() const noexcept { return abandoned_.load(); }
  std::vector<std::string> open_errors() const;

 private:
  /// Feeds unless another thread is feeding, in which case that thread feeds once more before
  /// it lets go: nobody ever waits for the feed lock (a read from the range may block).
  void feed() noexcept;
  void feed_locked();
  /// Ends batches that will create no more jobs: releases their ranges, marks them fed.
  void end_batches_locked(std::vector<std::shared_ptr<BatchCore>>& ended);
  void promote_deferred_locked(Released& released);
  void shutdown_once();
  void remove_hungry(const std::shared_ptr<BatchCore>& batch);
  void enqueue(std::vector<JobPtr>& jobs);
  /// Starts a runspace with the lowest free index (or `reuse`); false when its thread could not
  /// start, which is noted in open_errors and pauses further starts for a moment.
  bool spawn_locked(Released& released, std::optional<std::size_t> reuse = std::nullopt);
  bool may_spawn_locked(std::chrono::steady_clock::time_point now) const;
  std::size_t take_index_locked();
  void release_index_locked(std::size_t index);
  /// In a catch block: keeps the message of the exception being handled, up to a bound.
  void note_open_error_locked(const std::string& what) noexcept;
  /// Keeps the message while open_errors_ is under its bound; counts it otherwise.
  void keep_open_error_locked(std::string message);
  void runspace_main(const std::shared_ptr<RunspaceSlot>& slot);
  /// The next job this runspace may run, or null when the pool closes or the runspace idled out.
  /// Accounts for `ended`, the job the runspace ran before (if any), under the same lock.
  JobPtr next_job(const std::shared_ptr<RunspaceSlot>& slot, bool first, const JobRecord* ended,
                  Released& released);
  /// Runs one job; false when the runspace was abandoned meanwhile.
  bool run_job(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job);
  void after_run_locked(const JobRecord& job, Released& released);
  void request_stop_locked(RunspaceSlot& slot, std::chrono::steady_clock::time_point now);
  void arm(std::chrono::steady_clock::time_point deadline);
  void rearm();
  void on_watch();
  void abandon(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job);

  const PoolOptions options_;
  const std::shared_ptr<RegistryCore> registry_;
  const std::shared_ptr<const SessionState> session_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<JobPtr> ready_;
  std::deque<JobPtr> deferred_;  // their batch was at max_running when they came up
  std::vector<std::shared_ptr<RunspaceSlot>> slots_;    // open, not abandoned
  std::vector<std::shared_ptr<RunspaceSlot>> retired_;  // closed when idle; joined later
  std::size_t idle_ = 0;
  std::size_t starting_ = 0;  // spawned, not yet waiting for a job
  std::vector<std::string> open_errors_;
  std::size_t open_errors_dropped_ = 0;  // past the bound on open_errors_
  // Runspace indexes: the lowest free one is reused first (a min-heap), then next_index_.
  std::vector<std::size_t> free_indices_;
  std::size_t next_index_ = 0;
  std::chrono::steady_clock::time_point spawn_retry_at_{};  // after a thread failed to start
  std::atomic<bool> closing_{false};
  std::atomic<std::size_t> unfinished_{0};  // places under max_queue taken
  std::atomic<std::size_t> abandoned_{0};

  std::mutex feed_mutex_;                               // held while reading input ranges
  std::vector<JobPtr> feed_created_;                    // a feed round's jobs; feed_mutex_
  std::vector<std::shared_ptr<BatchCore>> feed_ended_;  // a feed round's ended batches; same
  std::atomic<bool> feed_again_{false};
  std::once_flag shutdown_once_;
  std::mutex hungry_mutex_;
  std::deque<std::shared_ptr<BatchCore>> hungry_;  // batches with inputs left
  std::atomic<std::size_t> hungry_count_{0};
  std::atomic<bool> feed_scheduled_{false};

  // Jobs a feed round may create before it hands them to the runspaces, and how many places a
  // runspace waits for before it feeds between jobs.
  const std::size_t feed_chunk_;

  std::atomic<std::int64_t> armed_at_;     // the watch timer's expiry, steady ns; max = none
  boost::asio::steady_timer watch_timer_;  // only touched on the watch executor
};

}  // namespace rsp::detail
