// A runspace that is a Boost.Thread of this process: its thread body takes jobs from the pool and
// runs them in place. A timeout can interrupt it, but not end it: a job that ignores its stop
// keeps its thread, which the pool then abandons.
#pragma once

#include <memory>

#include "detail/runspace_seam.hpp"

namespace rsp::detail {

/// The thread runspace's side of the seam.
std::unique_ptr<RunspaceDriver> make_thread_runspace();

// Shared with the process runspace, which drives jobs through the seam the same way.

/// The deadline of a job that just started, if it has a timeout; the slot learns it under its
/// lock unless a stop already set the stop grace there.
void arm_job_timeout(RunspaceHost& host, RunspaceSlot& slot, const JobRecord& job);
/// Whether the pool gave up on the runspace.
bool abandoned(RunspaceSlot& slot);

}  // namespace rsp::detail
