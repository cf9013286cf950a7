// Not for users: turning whatever a script threw into an error record, the same way for a job
// (the engine) and for one input of parallel_map (a template, hence a public detail header).
#pragma once

#include "rsparallel/job.hpp"

namespace rsp::detail {

/// Describes the exception being handled: message, readable type name and the exception itself.
/// Call only inside a catch block.
ErrorRecord describe_current_exception();

}  // namespace rsp::detail
