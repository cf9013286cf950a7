// The pool's shared core, New-RunspacePool's half: its runspaces, the queue of created jobs they
// take from, stopping jobs, and shutdown. Its parts are units of their own: the job factory
// (feeding), the deadline watch (one timer), and the runspaces behind the runspace seam.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "detail/batch_core.hpp"
#include "detail/deadline_watch.hpp"
#include "detail/job_factory.hpp"
#include "detail/job_record.hpp"
#include "detail/open_errors.hpp"
#include "detail/run_queue.hpp"
#include "detail/runspace_seam.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::detail {

class RegistryCore;

class PoolCore final : public JobIntake,
                       public RunspaceHost,
                       public DeadlineTarget,
                       public std::enable_shared_from_this<PoolCore> {
 public:
  PoolCore(PoolOptions options, std::shared_ptr<RegistryCore> registry);
  ~PoolCore();

  /// Opens min_runspaces; called once right after construction.
  void start();
  /// Stops everything; idempotent; returns within about stop_grace.
  void shutdown();
  bool closing() const noexcept override { return closing_.load(); }

  const PoolOptions& options() const noexcept { return options_; }
  RegistryCore& registry() const noexcept { return *registry_; }
  const std::shared_ptr<RegistryCore>& shared_registry() const noexcept { return registry_; }

  /// A new batch to feed; false (and nothing done) once the pool is closing.
  bool add_batch(const std::shared_ptr<BatchCore>& batch);
  /// After a receiver's pause ended or a batch was stopped: the factory looks again.
  void schedule_feed();
  /// Queues created jobs (JobIntake): the factory's only way into the pool.
  void enqueue(std::vector<JobPtr>& jobs) override;

  /// The winner of JobRecord::try_finish calls this: publish, count, free a place. A runspace
  /// passes feed_now = false and feeds right after, on its own thread.
  void publish_finished(const JobPtr& job, JobState previous, bool feed_now = true) override;
  /// Ends the job Stopped; a running one is also interrupted and given stop_grace.
  void stop_job(const JobPtr& job);

  std::size_t open_runspaces() const;
  std::size_t busy_runspaces() const;
  std::size_t unfinished_jobs() const noexcept { return factory_.unfinished(); }
  std::size_t abandoned_runspaces() const noexcept { return abandoned_.load(); }
  std::vector<std::string> open_errors() const { return open_errors_.list(); }

  // RunspaceHost: what the runspaces ask of the pool.
  JobPtr next_job(const std::shared_ptr<RunspaceSlot>& slot, bool first, const JobRecord* ended,
                  Released& released) override;
  void job_ran(const JobRecord& job) override;
  void between_jobs() override;
  void arm(std::chrono::steady_clock::time_point deadline) override { watch_.arm(deadline); }
  void note_open_error(std::string message) override { open_errors_.keep(std::move(message)); }

  // DeadlineTarget: times out jobs past their deadline, abandons runspaces past their grace.
  void on_deadline() override;

 private:
  void after_run_locked(const JobRecord& job, Released& released);
  void shutdown_once();
  /// Starts a runspace with the lowest free index (or `reuse`); false when it could not start,
  /// which is noted in open_errors and pauses further starts for a moment.
  bool spawn_locked(Released& released, std::optional<std::size_t> reuse = std::nullopt);
  bool may_spawn_locked(std::chrono::steady_clock::time_point now) const;
  std::size_t take_index_locked();
  void release_index_locked(std::size_t index);
  void request_stop_locked(RunspaceSlot& slot, std::chrono::steady_clock::time_point now);
  void abandon(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job);
  /// At shutdown: waits for the runspace until `deadline`, else gives up on it.
  void join_or_abandon(RunspaceSlot& slot, std::chrono::steady_clock::time_point deadline);

  const PoolOptions options_;
  const std::shared_ptr<RegistryCore> registry_;
  const std::shared_ptr<const SessionState> session_;

  // Lock order: the factory's feed lock, then mutex_, then a slot's mutex, then a job record's
  // and the registry's. User code never runs under mutex_ (see Released).
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  RunQueue queue_;                                      // guarded by mutex_
  std::vector<std::shared_ptr<RunspaceSlot>> slots_;    // open, not abandoned; mutex_
  std::vector<std::shared_ptr<RunspaceSlot>> retired_;  // closed when idle; joined later; mutex_
  std::size_t idle_ = 0;                                // mutex_
  std::size_t starting_ = 0;  // spawned, not yet waiting for a job; mutex_
  // Runspace indexes: the lowest free one is reused first (a min-heap), then next_index_.
  std::vector<std::size_t> free_indices_;                   // mutex_
  std::size_t next_index_ = 0;                              // mutex_
  std::chrono::steady_clock::time_point spawn_retry_at_{};  // after a failed start; mutex_
  std::atomic<bool> closing_{false};
  std::atomic<std::size_t> abandoned_{0};
  std::once_flag shutdown_once_;
  OpenErrors open_errors_;

  DeadlineWatch watch_;
  // Last: its executor's thread ends before the state above goes away.
  JobFactory factory_;
};

}  // namespace rsp::detail
