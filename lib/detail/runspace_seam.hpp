// The runspace seam: how a pool drives a runspace, whatever runs the runspace's jobs (a
// Boost.Thread of this process today; a worker process can plug in beside it), and what a
// runspace asks of its pool. The registry, receive and clear never see which one it is.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "detail/job_record.hpp"
#include "detail/mutex.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp::detail {

class RunspaceDriver;

/// One runspace. `mutex` guards the job it runs and everything that targets that job (stop,
/// interrupt, deadline), so a stop meant for one job can never reach the next.
struct RunspaceSlot {
  RunspaceSlot(std::size_t index, std::shared_ptr<const SessionState> session);
  ~RunspaceSlot();

  Runspace runspace;
  const std::shared_ptr<const SessionState> session;  // for the close hook of an abandoned one

  // Lock order: after PoolCore::mutex_; before RegistryCore::mutex_ (see pool_core.hpp).
  Mutex mutex;
  // Set once under `mutex` before the runspace starts; then only called (see RunspaceDriver).
  std::unique_ptr<RunspaceDriver> driver;
  JobPtr current RSP_GUARDED_BY(mutex);
  std::chrono::steady_clock::time_point deadline RSP_GUARDED_BY(mutex) =
      std::chrono::steady_clock::time_point::max();
  bool stopping RSP_GUARDED_BY(mutex) = false;   // the deadline is the stop grace
  bool abandoned RSP_GUARDED_BY(mutex) = false;  // given up on; it no longer touches the pool
  bool joining RSP_GUARDED_BY(mutex) = false;    // shutdown waits for it: no more interrupts
  std::atomic<bool> executing{false};            // in a job's code now
  std::stop_source stop RSP_GUARDED_BY(mutex);   // replaced after a job that used it
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

/// The pool, as its runspaces see it.
class RunspaceHost {
 public:
  /// The next job this runspace may run, or null when the pool closes or the runspace idled
  /// out. Accounts for `ended`, the job the runspace ran before (if any), under the same lock.
  virtual JobPtr next_job(const std::shared_ptr<RunspaceSlot>& slot, bool first,
                          const JobRecord* ended, Released& released) = 0;
  /// A job of a batch with max_running ended: its place goes to the batch's next job now.
  virtual void job_ran(const JobRecord& job) = 0;
  /// Ends the job in `state` (if nothing ended it first), published and counted; a runspace
  /// passes feed_now = false and feeds between jobs itself. Returns the state it left, if this
  /// call ended it.
  virtual std::optional<JobState> finish(const JobPtr& job, JobState state, ErrorRecord* error,
                                         bool feed_now) = 0;
  /// Between jobs: the runspace feeds when a few places are free.
  virtual void between_jobs() = 0;
  virtual bool closing() const noexcept = 0;
  /// The deadline watcher looks at the runspaces again at `deadline`.
  virtual void arm(std::chrono::steady_clock::time_point deadline) = 0;
  /// A runspace's session did not open: kept for RunspacePool::open_errors().
  virtual void note_open_error(std::string message) = 0;

 protected:
  ~RunspaceHost() = default;
};

/// How the pool drives one runspace. interrupt() and abandon() come with the slot's mutex held;
/// join_until() comes without it, once `joining` is set (no interrupt() after that), or for a
/// runspace that closed on its own.
class RunspaceDriver {
 public:
  virtual ~RunspaceDriver() = default;
  /// Starts serving jobs from `host` on the runspace's own thread of control. Throws when the
  /// system refuses (no thread to be had).
  virtual void start(std::shared_ptr<RunspaceHost> host, std::shared_ptr<RunspaceSlot> slot) = 0;
  /// After the job's stop source was triggered: reach a job blocked where the token is not
  /// looked at (a Boost.Thread interruption point).
  virtual void interrupt() = 0;
  /// Gives up on a runspace whose job outlasted stop_grace: it ends on its own or never, and
  /// never touches the pool again.
  virtual void abandon() = 0;
  /// Waits until `deadline` for the runspace to end; false when it did not, or when called
  /// from the runspace itself (a job closing its own pool).
  virtual bool join_until(std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace rsp::detail
