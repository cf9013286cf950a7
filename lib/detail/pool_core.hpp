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
#include <optional>
#include <string>
#include <vector>

#include "detail/batch_core.hpp"
#include "detail/deadline_watch.hpp"
#include "detail/job_factory.hpp"
#include "detail/job_record.hpp"
#include "detail/mutex.hpp"
#include "detail/open_errors.hpp"
#include "detail/run_queue.hpp"
#include "detail/runspace_seam.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::process {
struct WorkerSession;
}

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

  /// Ends the job in the registry (RegistryCore::finish), then counts it here.
  std::optional<JobState> finish(const JobPtr& job, JobState state, ErrorRecord* error = nullptr,
                                 bool feed_now = true) override;
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
  void after_run_locked(const JobRecord& job, Released& released) RSP_REQUIRES(mutex_);
  /// After the registry ended a job (leaving `previous`): its place is free, its batch counts
  /// it, and (with feed_now) feeding goes on.
  void count_finished(const JobPtr& job, JobState previous, bool feed_now = true);
  void shutdown_once();
  /// Starts a runspace with the lowest free index (or `reuse`); false when it could not start,
  /// which is noted in open_errors and pauses further starts for a moment.
  bool spawn_locked(Released& released, std::optional<std::size_t> reuse = std::nullopt)
      RSP_REQUIRES(mutex_);
  bool may_spawn_locked(std::chrono::steady_clock::time_point now) const RSP_REQUIRES(mutex_);
  std::size_t take_index_locked() RSP_REQUIRES(mutex_);
  void release_index_locked(std::size_t index) RSP_REQUIRES(mutex_);
  void request_stop_locked(RunspaceSlot& slot, std::chrono::steady_clock::time_point now)
      RSP_REQUIRES(slot.mutex);
  void abandon(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job);
  /// At shutdown: waits for the runspace until `deadline`, else gives up on it.
  void join_or_abandon(RunspaceSlot& slot, std::chrono::steady_clock::time_point deadline);

  const PoolOptions options_;
  const std::shared_ptr<RegistryCore> registry_;
  const std::shared_ptr<const SessionState> session_;
  // Process isolation: the session as it crosses to each worker.
  const std::shared_ptr<const process::WorkerSession> worker_session_;

  // The library's lock order, first to last (a lock is only ever taken while holding locks
  // above it in its own column):
  //   JobFactory::feed_mutex_ -> JobFactory::hungry_mutex_ -> FeedPlaces::mutex
  //   JobFactory::feed_mutex_ -> PoolCore::mutex_ -> RunspaceSlot::mutex
  //                              PoolCore::mutex_ -> OpenErrors::mutex_
  //   RunspaceSlot::mutex -> ProcessRunspace::mutex_ (a process runspace's driver)
  //   RunspaceSlot::mutex -> RegistryCore::mutex_ -> JobRecord::mutex
  //   JobFactory::feed_mutex_ -> RegistryCore::mutex_ -> BatchCore::mutex_
  // PoolCore::mutex_ and RegistryCore::mutex_ are never held together. No user code runs under
  // any of them (see Released), except a range read under feed_mutex_.
  mutable Mutex mutex_;
  std::condition_variable work_cv_;
  RunQueue queue_ RSP_GUARDED_BY(mutex_);
  std::vector<std::shared_ptr<RunspaceSlot>> slots_ RSP_GUARDED_BY(mutex_);  // open, not abandoned
  // Closed for idleness; their threads are joined later.
  std::vector<std::shared_ptr<RunspaceSlot>> retired_ RSP_GUARDED_BY(mutex_);
  std::size_t idle_ RSP_GUARDED_BY(mutex_) = 0;
  std::size_t starting_ RSP_GUARDED_BY(mutex_) = 0;  // spawned, not yet waiting for a job
  // Runspace indexes: the lowest free one is reused first (a min-heap), then next_index_.
  std::vector<std::size_t> free_indices_ RSP_GUARDED_BY(mutex_);
  std::size_t next_index_ RSP_GUARDED_BY(mutex_) = 0;
  // After a runspace could not start, none is tried before this.
  std::chrono::steady_clock::time_point spawn_retry_at_ RSP_GUARDED_BY(mutex_){};
  std::atomic<bool> closing_{false};
  std::atomic<std::size_t> abandoned_{0};
  std::once_flag shutdown_once_;
  OpenErrors open_errors_;

  DeadlineWatch watch_;
  // Last: its executor's thread ends before the state above goes away.
  JobFactory factory_;
};

}  // namespace rsp::detail
