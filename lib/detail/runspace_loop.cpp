#include "detail/runspace_loop.hpp"

namespace rsp::detail {

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

}  // namespace rsp::detail
