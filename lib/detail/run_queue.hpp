// The pool's queue of created jobs, in the order runspaces take them, with each batch's
// max_running: a job whose batch is at its limit waits aside until one of the batch's jobs ends.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "detail/job_record.hpp"

namespace rsp::detail {

/// Thread Safety: none of its own; the pool guards it with its mutex. Jobs it lets go of go to
/// `skipped`, to be destroyed once that lock is released.
class RunQueue {
 public:
  void push(JobPtr job) { ready_.push_back(std::move(job)); }
  bool empty() const noexcept { return ready_.empty(); }
  std::size_t size() const noexcept { return ready_.size(); }

  /// The next job a runspace may start, counted against its batch's max_running; null when
  /// there is none. Jobs stopped while queued are skipped.
  JobPtr pop(std::vector<JobPtr>& skipped);
  /// A job that counted against max_running left its runspace. Returns how many batches had a
  /// job made ready again by it (each may wake a runspace).
  std::size_t ran(const JobRecord& job, std::vector<JobPtr>& skipped);
  /// Everything queued or held back, for shutdown.
  std::vector<JobPtr> take_all();

 private:
  /// Jobs held back whose batch has room again go back to the queue; returns how many batches.
  std::size_t promote(std::vector<JobPtr>& skipped);

  /// The entry counting the batch's jobs on a runspace now (made when missing).
  std::size_t& running(const BatchCore& batch);
  std::size_t running_of(const BatchCore& batch) const;

  std::deque<JobPtr> ready_;
  std::deque<JobPtr> deferred_;  // their batch was at max_running when they came up
  // Jobs on a runspace now, per batch with a max_running; a batch leaves with its last job.
  std::vector<std::pair<const BatchCore*, std::size_t>> running_;
};

}  // namespace rsp::detail
