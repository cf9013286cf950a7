#include "detail/runspace_thread.hpp"

#include <functional>
#include <optional>
#include <utility>

#include <boost/thread/exceptions.hpp>
#include <boost/thread/thread.hpp>

#include "detail/batch_core.hpp"
#include "detail/clock.hpp"
#include "detail/errors.hpp"
#include "detail/runspace_loop.hpp"
#include "detail/thread_start.hpp"

namespace rsp::detail {
namespace {

void run_hook(const std::function<void(Runspace&)>& hook, Runspace& runspace) {
  if (!hook) return;
  try {
    hook(runspace);
  } catch (...) {
    // A close hook has nobody left to report to; the runspace closes regardless.
  }
}

// Runs the job's code on this thread and says how it ended.
JobOutcome run_here(JobRecord& job, Runspace& runspace, const std::stop_token& token) {
  JobContext& context = job.open_context(runspace, token);
  JobOutcome outcome;
  try {
    job.work->run(context);
    outcome.state = JobState::Completed;
    return outcome;
  } catch (const JobStopped&) {
    if (token.stop_requested()) outcome.state = JobState::Stopped;
    if (!token.stop_requested()) outcome.error = describe_current_exception();
  } catch (const boost::thread_interrupted&) {
    if (token.stop_requested()) outcome.state = JobState::Stopped;
    if (!token.stop_requested()) outcome.error = describe_current_exception();
  } catch (...) {
    outcome.error = describe_current_exception();
  }
  return outcome;
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
  auto run = [&](const JobPtr& job) {
    JobLeft left = run_on_runspace(host, weak, slot, job, [&](JobRecord& record, auto token) {
      return run_here(record, slot->runspace, token);
    });
    // No stop can target this runspace now that its job is over; drop the interrupt sent with
    // a stop (a stop request always sets `stopping`), or, abandoned, the one for the close hook.
    if (left != JobLeft::Normally) consume_stale_interrupt();
    return left;
  };
  serve_jobs(host, slot, open_error, run, [](const JobRecord&) {});
  host.reset();
  run_hook(slot->session->close, slot->runspace);  // abandoned too: the pool is not ours now
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
