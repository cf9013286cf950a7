// The registry's shared core: every job by id, the finished ones waiting for a receiver (kept
// per batch, so a receiver looks only at the batches it covers), the batches still tracked, and
// the Asio executor the pools' deadline watchers run on (their timers never block).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "detail/batch_core.hpp"
#include "detail/executor.hpp"
#include "detail/job_filter.hpp"
#include "detail/job_index.hpp"
#include "detail/job_record.hpp"
#include "detail/mutex.hpp"

namespace rsp::detail {

/// What a receiver with `keep` has looked at: jobs are published with increasing sequence
/// numbers, so each look starts after the last one instead of from the start.
struct KeepCursor {
  std::uint64_t seen_through = 0;
  // Handed over already: a job another receiver took and put back comes again with a later
  // sequence number.
  std::unordered_set<JobId> delivered;
};

class RegistryCore {
 public:
  RegistryCore();

  boost::asio::io_context& watch_io() noexcept { return watcher_.io(); }

  void add_batch(std::shared_ptr<BatchCore> batch);
  /// Gives the jobs their ids, in order, and holds them.
  void add_jobs(std::span<const JobPtr> jobs);
  /// The one place a job reaches its final state: NotStarted or Running (only Running with
  /// `only_running`) -> `state`, adding `error` if given, and handed to receivers in the same
  /// step, so no one ever sees a finished job that is not yet published. Exactly one caller
  /// wins and gets the state the job left; the others get nothing.
  std::optional<JobState> finish(const JobPtr& job, JobState state, ErrorRecord* error = nullptr,
                                 bool only_running = false);
  /// A batch became done: wake waiters.
  void notify_changed();

  /// Jobs held that match and are not finished.
  std::vector<JobPtr> unfinished(const JobFilter& filter) const;
  /// The matching batches still tracked.
  std::vector<std::shared_ptr<BatchCore>> batches(const JobFilter& filter) const;

  /// Waits until every matching job has finished, or (with `any`) a matching finished job not
  /// yet seen through `cursor` is there, or `until` passed. Returns whether every matching job
  /// had finished.
  bool wait(const JobFilter& filter, bool any, std::chrono::steady_clock::time_point until,
            const KeepCursor* cursor);
  /// Takes the finished matching jobs in id order. With `out`, their data is moved into it
  /// (copied, with keep); without, a job taken without keep is the caller's alone, data and
  /// all. With keep and a cursor, only jobs the cursor has not seen, which it then has.
  std::vector<JobPtr> take(const JobFilter& filter, bool keep, KeepCursor* cursor,
                           std::vector<ReceivedJob>* out);
  /// Gives jobs taken without keep back, unreceived, with their data (from `data` if given).
  void put_back(std::vector<JobPtr> jobs, std::vector<ReceivedJob>* data = nullptr);

  /// Removes the finished matching jobs; returns how many.
  std::size_t remove_finished(const JobFilter& filter);

  std::size_t size() const;
  std::optional<JobState> state(JobId id) const;
  JobId next_id() const;
  std::chrono::steady_clock::time_point created_at() const noexcept { return created_at_; }
  /// For tests: the entries of the by-id index, held jobs and gaps alike.
  std::size_t index_slots() const;

 private:
  /// A batch the registry tracks, and its finished jobs waiting for a receiver, in the order
  /// they were published.
  struct Tracked {
    std::shared_ptr<BatchCore> batch;
    std::vector<JobPtr> finished;
  };
  /// A thread in wait(): publish wakes it when a job it covers finishes.
  struct Waiter {
    const JobFilter* filter;
    bool idle;  // nothing to take yet; else it holds on for a group
  };
  using BatchList = std::vector<std::shared_ptr<BatchCore>>;

  bool scope_done_locked(const JobFilter& filter) const RSP_REQUIRES(mutex_);
  /// Whether a matching finished job (after the cursor's, if any) is there.
  bool has_match_locked(const JobFilter& filter, const KeepCursor* cursor) const
      RSP_REQUIRES(mutex_);
  /// Whether a matching batch's finished, unreceived jobs make a group, or reach half its
  /// max_unreceived: a receiver holding for a group stops holding then.
  bool group_ready_locked(const JobFilter& filter) const RSP_REQUIRES(mutex_);
  /// Hands a finished job to receivers; true when a waiter is to be woken.
  bool publish_locked(const JobPtr& job) RSP_REQUIRES(mutex_);
  bool wakes_locked(const Waiter& waiter, const JobRecord& job, const Tracked& tracked) const
      RSP_REQUIRES(mutex_);
  /// Calls fn(tracked) for each tracked batch the filter covers.
  template <class Fn>
  void for_each_match_locked(const JobFilter& filter, Fn fn) const RSP_REQUIRES(mutex_);
  JobPtr find_locked(JobId id) const RSP_REQUIRES(mutex_);
  /// Forgets finished jobs (marking them received first, with `receive`); adds a batch to
  /// `resume` when that ends its receiver's backpressure.
  void drop_locked(std::span<const JobPtr> jobs, bool receive, BatchList& resume)
      RSP_REQUIRES(mutex_);
  /// Moves batches that are done and hold no job into `released`, to be let go unlocked.
  void prune_batches_locked(BatchList& released) RSP_REQUIRES(mutex_);

  const std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
  // Lock order: after JobFactory::feed_mutex_ and RunspaceSlot::mutex; before JobRecord::mutex
  // and BatchCore::mutex_ (see pool_core.hpp).
  mutable Mutex mutex_;
  std::condition_variable changed_;
  std::vector<Waiter*> waiters_ RSP_GUARDED_BY(mutex_);
  // Waiters were woken and have not looked yet: publish stays quiet.
  bool signalled_ RSP_GUARDED_BY(mutex_) = false;
  JobId next_id_ RSP_GUARDED_BY(mutex_) = 1;
  JobIndex index_ RSP_GUARDED_BY(mutex_);
  std::size_t held_ RSP_GUARDED_BY(mutex_) = 0;
  // JobRecord::publish_seq of the last job published.
  std::uint64_t publish_seq_ RSP_GUARDED_BY(mutex_) = 0;
  std::unordered_map<const BatchCore*, Tracked> tracked_ RSP_GUARDED_BY(mutex_);
  // Last: its thread stops before the state above goes away.
  Executor watcher_;
};

}  // namespace rsp::detail
