// The registry's shared core: every job by id, the finished ones waiting for a receiver, the
// batches still tracked, and the two Asio executors (feeding inputs, watching deadlines).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "detail/batch_core.hpp"
#include "detail/job_record.hpp"

namespace rsp::detail {

/// Which jobs a receive or clear call covers.
struct JobFilter {
  const PoolCore* pool = nullptr;    // null: every pool
  const BatchCore* batch = nullptr;  // null: every batch
  std::string name;                  // empty: every name
  std::optional<JobId> id;

  bool matches(const JobRecord& job) const;
  /// Whether the batch can hold matching jobs (an id filter is checked per job).
  bool matches(const BatchCore& batch) const;
};

/// An io_context run by one thread of its own. The thread holds the io_context, so destroying
/// the executor from one of its own handlers is safe.
class Executor {
 public:
  explicit Executor(const char* role);
  ~Executor();
  boost::asio::io_context& io() noexcept { return *io_; }

 private:
  std::shared_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

class RegistryCore {
 public:
  RegistryCore();

  boost::asio::io_context& feed_io() noexcept { return feeder_.io(); }
  boost::asio::io_context& watch_io() noexcept { return watcher_.io(); }

  void add_batch(std::shared_ptr<BatchCore> batch);
  /// Gives the jobs their ids, in order, and holds them.
  void add_jobs(std::span<const JobPtr> jobs);
  /// A held job reached its final state: hand it to receivers.
  void publish(const JobPtr& job);
  /// A batch became done: wake waiters.
  void notify_changed();

  /// Jobs held that match and are not finished.
  std::vector<JobPtr> unfinished(const JobFilter& filter) const;
  /// The matching batches still tracked.
  std::vector<std::shared_ptr<BatchCore>> batches(const JobFilter& filter) const;

  /// Waits until every matching job has finished, or (with `any`) a matching finished job not
  /// in `skip` is there, or `until` passed. Returns whether every matching job had finished.
  bool wait(const JobFilter& filter, bool any, std::chrono::steady_clock::time_point until,
            const std::unordered_set<JobId>* skip);
  /// Takes the finished matching jobs in id order. With `out`, their data is moved into it
  /// (copied, with keep); without, a job taken without keep is the caller's alone, data and
  /// all. With keep, jobs in `delivered` are skipped and the others added to it.
  std::vector<JobPtr> take(const JobFilter& filter, bool keep, std::unordered_set<JobId>* delivered,
                           std::vector<ReceivedJob>* out);
  /// Gives jobs taken without keep back, unreceived, with their data (from `data` if given).
  void put_back(std::vector<JobPtr> jobs, std::vector<ReceivedJob>* data = nullptr);

  /// Removes the finished matching jobs; returns how many.
  std::size_t remove_finished(const JobFilter& filter);

  std::size_t size() const;
  std::optional<JobState> state(JobId id) const;
  JobId next_id() const;
  /// For tests: the slots of the by-id index, held jobs and gaps alike.
  std::size_t index_slots() const;
  std::chrono::steady_clock::time_point created_at() const noexcept { return created_at_; }

 private:
  bool scope_done_locked(const JobFilter& filter) const;
  bool has_match_locked(const JobFilter& filter, const std::unordered_set<JobId>* skip) const;
  /// Whether a matching batch's finished, unreceived jobs reach half its max_unreceived: a
  /// receiver holding for a group stops holding then, before the feed pauses for it.
  bool backlog_half_full_locked(const JobFilter& filter) const;
  /// The entry of `id` in index_ (null once the job is received or cleared), or null if none.
  const JobPtr* entry_locked(JobId id) const;
  JobPtr find_locked(JobId id) const;
  /// Whether `job` itself is held, by address (no shared_ptr copy).
  bool holds_locked(const JobRecord& job) const;
  /// Forgets finished jobs (marking them received first, with `receive`); adds a batch to
  /// `resume` when that ends its receiver's backpressure.
  void drop_locked(std::span<const JobPtr> jobs, bool receive,
                   std::vector<std::shared_ptr<BatchCore>>& resume);
  /// Moves batches that are done and hold no job into `released`, to be let go unlocked.
  void prune_batches_locked(std::vector<std::shared_ptr<BatchCore>>& released);

  const std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t waiters_ = 0;
  // Waiters with nothing to take: the next publish wakes them. The others hold for a group.
  std::size_t idle_waiters_ = 0;
  bool signalled_ = false;   // waiters were woken and have not looked yet: publish stays quiet
  struct IndexEntry {
    JobId id;
    JobPtr job;  // null once received or cleared: a gap
  };
  JobId next_id_ = 1;
  std::vector<IndexEntry> index_;  // every held job by increasing id, and gaps
  std::size_t index_gaps_ = 0;
  std::size_t held_ = 0;
  std::vector<JobPtr> finished_;  // finished and held, in the order they finished
  std::vector<std::shared_ptr<BatchCore>> batches_;
  // Last: their threads stop before the state above goes away.
  Executor feeder_{"feeder"};
  Executor watcher_{"watcher"};
};

}  // namespace rsp::detail
