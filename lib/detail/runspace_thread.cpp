#include "detail/runspace_thread.hpp"

#include <functional>
#include <optional>
#include <utility>

#include <boost/thread/exceptions.hpp>
#include <boost/thread/thread.hpp>

#include "detail/batch_core.hpp"
#include "detail/clock.hpp"
#include "detail/errors.hpp"
#include "detail/thread_start.hpp"

namespace rsp::detail {
namespace {

// Drops an interrupt that was meant for the job that just ended, so the next job never sees it.
void consume_interrupt() {
  if (!boost::this_thread::interruption_requested()) return;
  try {
    boost::this_thread::interruption_point();
  } catch (const boost::thread_interrupted&) {
  }
}

void run_hook(const std::function<void(Runspace&)>& hook, Runspace& runspace) {
  if (!hook) return;
  try {
    hook(runspace);
  } catch (...) {
    // A close hook has nobody left to report to; the runspace closes regardless.
  }
}

}  // namespace

void arm_job_timeout(RunspaceHost& host, RunspaceSlot& slot, const JobRecord& job) {
  std::chrono::milliseconds timeout = job.batch->options.timeout;
  if (timeout.count() <= 0) return;
  Clock::time_point deadline = deadline_after(job.started_at, timeout);
  {
    Lock lock(slot.mutex);
    if (slot.stopping) return;
    slot.deadline = deadline;
  }
  host.arm(deadline);
}

bool abandoned(RunspaceSlot& slot) {
  Lock lock(slot.mutex);
  return slot.abandoned;
}

namespace {

// Runs the job's work on this thread and says how it ended.
JobState run_work(JobRecord& job, JobContext& context, const std::stop_token& token,
                  std::optional<ErrorRecord>& error) {
  try {
    job.work->run(context);
    return JobState::Completed;
  } catch (const JobStopped&) {
    if (token.stop_requested()) return JobState::Stopped;
    error = describe_current_exception();
  } catch (const boost::thread_interrupted&) {
    if (token.stop_requested()) return JobState::Stopped;
    error = describe_current_exception();
  } catch (...) {
    error = describe_current_exception();
  }
  return JobState::Failed;
}

// Runs one job; false when the runspace was abandoned meanwhile. While the job's code runs, the
// runspace holds its pool only by `weak`: a runspace abandoned by its pool's shutdown (its job
// ignored the stop) never keeps the pool alive, nor destroys it later on this thread.
bool run_job(std::shared_ptr<RunspaceHost>& host, const std::weak_ptr<RunspaceHost>& weak,
             RunspaceSlot& slot, const std::shared_ptr<RunspaceSlot>& owner, const JobPtr& job) {
  std::stop_token token;
  bool closing = false;
  {
    Lock lock(slot.mutex);
    slot.current = job;
    token = slot.stop.get_token();
    // Shutdown looks at `current` under this lock after it starts closing: it either saw this
    // job or we see it closing here.
    closing = host->closing();
  }
  if (closing) {
    host->finish(job, JobState::Stopped, nullptr, false);
  } else if (job->try_start(owner)) {
    slot.executing.store(true);
    arm_job_timeout(*host, slot, *job);
    JobContext& context = job->open_context(slot.runspace, token);
    std::optional<ErrorRecord> error;
    host.reset();
    JobState outcome = run_work(*job, context, token, error);
    job->work.reset();
    slot.executing.store(false);
    // Abandoned: whoever gave up on the runspace ended the job; the pool may be gone.
    if (abandoned(slot) || !(host = weak.lock())) return false;
    host->finish(job, outcome, error ? &*error : nullptr, false);
  }
  bool interrupted = false;
  {
    Lock lock(slot.mutex);
    if (slot.abandoned) return false;
    slot.current = nullptr;
    slot.deadline = Clock::time_point::max();
    interrupted = std::exchange(slot.stopping, false);
    if (slot.stop.stop_requested()) slot.stop = std::stop_source();
  }
  // No stop can target this runspace now that `current` is clear; drop the interrupt sent with
  // a stop (a stop request always sets `stopping`).
  if (interrupted) consume_interrupt();
  return true;
}

// The runspace's thread: opens the session, then runs jobs until the pool closes, the runspace
// idles out, or it is abandoned.
void serve(const std::weak_ptr<RunspaceHost>& weak, const std::shared_ptr<RunspaceSlot>& slot) {
  std::shared_ptr<RunspaceHost> host = weak.lock();
  if (!host) return;
  std::optional<ErrorRecord> open_error;
  if (slot->session->open) {
    try {
      slot->session->open(slot->runspace);
    } catch (...) {
      open_error = describe_current_exception();
      open_error->message = "runspace " + std::to_string(slot->runspace.index()) +
                            " failed to open: " + open_error->message;
      host->note_open_error(open_error->message);
    }
  }
  bool first = true;
  JobPtr ended;  // the job this runspace ran last, for next_job to account for
  for (;;) {
    Released released;  // what next_job let go of, destroyed outside the pool's lock
    JobPtr job = host->next_job(slot, first, ended.get(), released);
    ended.reset();  // outside the pool's lock: this may be the last reference to the record
    released.clear();
    if (!job) break;
    first = false;
    if (open_error) {
      // A runspace whose session did not open fails its jobs clearly rather than run them
      // without the state they expect.
      ErrorRecord error = *open_error;
      host->finish(job, JobState::Failed, &error, true);
    } else if (!run_job(host, weak, *slot, slot, job)) {
      host.reset();
      consume_interrupt();  // the stop was for the job, not for the close hook
      run_hook(slot->session->close, slot->runspace);  // abandoned: the pool is not ours now
      return;
    }
    if (job->batch->options.max_running != 0) {
      // Its batch's next job may be held back for it: free that place before a feed that may
      // block on a read.
      host->job_ran(*job);
    } else {
      ended = std::move(job);  // accounted for under next_job's lock, saving a lock round
    }
    host->between_jobs();
  }
  host.reset();
  run_hook(slot->session->close, slot->runspace);
}

class ThreadRunspace final : public RunspaceDriver {
 public:
  void start(std::shared_ptr<RunspaceHost> host, std::shared_ptr<RunspaceSlot> slot) override {
    thread_ = start_thread(
        [weak = std::weak_ptr<RunspaceHost>(host), slot = std::move(slot)] { serve(weak, slot); });
  }

  void interrupt() override { thread_.interrupt(); }

  void abandon() override {
    if (thread_.joinable()) thread_.detach();
  }

  bool join_until(Clock::time_point deadline) override {
    return join_thread_until(thread_, deadline);
  }

 private:
  boost::thread thread_;
};

}  // namespace

std::unique_ptr<RunspaceDriver> make_thread_runspace() {
  return std::make_unique<ThreadRunspace>();
}

}  // namespace rsp::detail
