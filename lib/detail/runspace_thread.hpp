// A runspace that is a Boost.Thread of this process: its thread body takes jobs from the pool and
// runs them in place. A timeout can interrupt it, but not end it: a job that ignores its stop
// keeps its thread, which the pool then abandons.
#pragma once

#include <memory>

#include "detail/runspace_seam.hpp"

namespace rsp::detail {

/// The thread runspace's side of the seam.
std::unique_ptr<RunspaceDriver> make_thread_runspace();

}  // namespace rsp::detail
