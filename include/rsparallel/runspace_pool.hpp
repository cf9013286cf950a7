// rsparallel: New-RunspacePool. A pool of runspaces (Boost.Thread threads) that run jobs.
//
// @code
//   auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 8});
//   auto batch = rsp::new_runspace_job(*pool, inputs, [](int x) { return x * x; });
//   batch.wait();
// @endcode
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rsparallel/job_registry.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp {

namespace detail {
class PoolCore;
struct Access;
}  // namespace detail

/// A pool of runspaces. Opens min_runspaces at once and more on demand up to max_runspaces;
/// those above min close after idle_timeout. At most max_queue jobs of the pool exist unfinished
/// at once, so input ranges are read only as places free. While a streaming receive covers a
/// batch, at most max_unreceived of its finished jobs wait for that receiver: the registry holds
/// at most max_queue + max_unreceived of the pool's jobs however many inputs there are.
///
/// Destroying the pool stops what is queued (those jobs end Stopped), requests a stop of running
/// jobs and interrupts them, waits at most stop_grace for them, and abandons the rest: it never
/// hangs on a job that ignores its stop.
///
/// Thread Safety: Distinct objects: safe. Shared objects: safe, except destruction, which must
/// not race with other calls on the same object.
class RunspacePool {
 public:
  explicit RunspacePool(PoolOptions options = {});
  ~RunspacePool();
  RunspacePool(const RunspacePool&) = delete;
  RunspacePool& operator=(const RunspacePool&) = delete;

  /// The options in force, with max_queue and max_unreceived resolved (never 0) and registry set.
  const PoolOptions& options() const noexcept;
  JobRegistry& registry() const noexcept;
  const std::shared_ptr<JobRegistry>& shared_registry() const noexcept;

  /// Runspaces open now (idle or busy), not counting abandoned ones.
  std::size_t open_runspaces() const;
  /// Runspaces running a job's code now (from its start until its script returns).
  std::size_t busy_runspaces() const;
  /// Jobs created and not finished (NotStarted or Running).
  std::size_t unfinished_jobs() const;
  /// Runspaces given up because their job ignored its stop for stop_grace.
  std::size_t abandoned_runspaces() const;
  /// Messages of exceptions thrown by SessionState::open, one per runspace that failed to open.
  std::vector<std::string> open_errors() const;

  /// What the destructor does, callable earlier; later calls do nothing. Jobs created afterwards
  /// are refused with std::logic_error.
  void close();

 private:
  friend struct detail::Access;  // the library's own components reach core_ through it

  std::shared_ptr<JobRegistry> registry_;
  std::shared_ptr<detail::PoolCore> core_;
};

/// New-RunspacePool: validates options (std::invalid_argument) and opens the pool.
std::shared_ptr<RunspacePool> new_runspace_pool(PoolOptions options = {});

}  // namespace rsp
