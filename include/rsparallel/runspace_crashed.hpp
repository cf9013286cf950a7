// rsparallel: the error of a job whose worker process died under it (process pools).
//
// @code
//   for (const rsp::ReceivedJob& job : rsp::receive_runspace_job(pool, {.wait = true})) {
//     for (const rsp::ErrorRecord& e : job.errors)
//       if (e.type == "rsp::RunspaceCrashed") std::cerr << job.id << ": " << e.message << '\n';
//   }
// @endcode
#pragma once

#include <stdexcept>

namespace rsp {

/// Held by the error record of a job whose worker process died while running it: a signal
/// (a crash, SIGKILL by the out-of-memory killer), abort() or an exit. what() names the signal
/// ("killed by signal 11 (SIGSEGV)") or the exit status ("exited with status 3").
///
/// Thread Safety: a plain exception object. Distinct objects: safe. Shared objects: read-only.
class RunspaceCrashed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rsp
