// What every runspace does around a job's code, whatever runs that code (a thread, a worker
// process): take jobs from the pool through the seam, start each, arm its timeout, run it
// holding the pool only weakly, end it in the registry, and account for it.
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <utility>

#include "detail/batch_core.hpp"
#include "detail/clock.hpp"
#include "detail/runspace_seam.hpp"

namespace rsp::detail {

/// How a job's code ended.
struct JobOutcome {
  JobState state = JobState::Failed;
  std::optional<ErrorRecord> error;
};

/// The deadline of a job that just started, if it has a timeout; the slot learns it under its
/// lock unless a stop already set the stop grace there.
void arm_job_timeout(RunspaceHost& host, RunspaceSlot& slot, const JobRecord& job);
/// Whether the pool gave up on the runspace.
bool abandoned(RunspaceSlot& slot);

/// How a job left its runspace.
enum class JobLeft { Normally, AfterAStop, Abandoned };

/// Runs one job: `execute(job, token)` runs its code and returns a JobOutcome. While it runs,
/// the runspace holds its pool only by `weak`: a runspace abandoned by its pool's shutdown (its
/// job ignored the stop) never keeps the pool alive, nor destroys it later on this thread.
template <class Execute>
JobLeft run_on_runspace(std::shared_ptr<RunspaceHost>& host,
                        const std::weak_ptr<RunspaceHost>& weak,
                        const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job,
                        Execute&& execute) {
  std::stop_token token;
  bool closing = false;
  {
    Lock lock(slot->mutex);
    slot->current = job;
    token = slot->stop.get_token();
    // Shutdown looks at `current` under this lock after it starts closing: it either saw this
    // job or we see it closing here.
    closing = host->closing();
  }
  if (closing) {
    host->finish(job, JobState::Stopped, nullptr, false);
  } else if (job->try_start(slot)) {
    slot->executing.store(true);
    arm_job_timeout(*host, *slot, *job);
    host.reset();
    JobOutcome outcome = execute(*job, token);
    job->work.reset();
    slot->executing.store(false);
    // Abandoned: whoever gave up on the runspace ended the job; the pool may be gone.
    if (abandoned(*slot) || !(host = weak.lock())) return JobLeft::Abandoned;
    host->finish(job, outcome.state, outcome.error ? &*outcome.error : nullptr, false);
  }
  Lock lock(slot->mutex);
  if (slot->abandoned) return JobLeft::Abandoned;
  slot->current = nullptr;
  slot->deadline = Clock::time_point::max();
  bool stopped = std::exchange(slot->stopping, false);
  if (slot->stop.stop_requested()) slot->stop = std::stop_source();
  return stopped ? JobLeft::AfterAStop : JobLeft::Normally;
}

/// Takes jobs for this runspace until the pool closes or the runspace idles out, running each
/// with `run(job)` (a JobLeft); with `open_error` set, fails them with it instead. After each
/// job, `after(job)` (a worker may be replaced there). Returns false once abandoned.
template <class Run, class After>
bool serve_jobs(std::shared_ptr<RunspaceHost>& host, const std::shared_ptr<RunspaceSlot>& slot,
                const std::optional<ErrorRecord>& open_error, Run&& run, After&& after) {
  bool first = true;
  JobPtr ended;  // the job this runspace ran last, for next_job to account for
  for (;;) {
    Released released;  // what next_job let go of, destroyed outside the pool's lock
    JobPtr job = host->next_job(slot, first, ended.get(), released);
    ended.reset();  // outside the pool's lock: this may be the last reference to the record
    released.clear();
    if (!job) return true;
    first = false;
    if (open_error) {
      // A runspace that did not open fails its jobs clearly rather than run them without the
      // state they expect.
      ErrorRecord error = *open_error;
      host->finish(job, JobState::Failed, &error, true);
    } else if (run(job) == JobLeft::Abandoned) {
      host.reset();
      return false;
    }
    after(*job);
    if (job->batch->options.max_running != 0) {
      // Its batch's next job may be held back for it: free that place before a feed that may
      // block on a read.
      host->job_ran(*job);
    } else {
      ended = std::move(job);  // accounted for under next_job's lock, saving a lock round
    }
    host->between_jobs();
  }
}

}  // namespace rsp::detail
