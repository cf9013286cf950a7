// Turning whatever a job threw into an error record.
#pragma once

#include "rsparallel/job.hpp"

namespace rsp::detail {

/// Describes the exception being handled: message, readable type name and the exception itself.
/// Call only inside a catch block.
ErrorRecord describe_current_exception();

}  // namespace rsp::detail
