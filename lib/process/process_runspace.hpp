// A runspace that is a worker process (PoolOptions::isolation = Process): a thread of the pool
// sends each job to its worker and waits for what comes back. A timeout's stop grace ends in
// SIGKILL, and a worker that dies ends only its running job (Failed, rsp::RunspaceCrashed); the
// runspace starts a fresh worker for its next job.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detail/runspace_seam.hpp"

namespace rsp::process {

/// The process runspace's side of the seam. `variables` are the session's, encoded once by the
/// pool (encoded_variables); `max_jobs` replaces the worker after that many jobs (0: never).
std::unique_ptr<detail::RunspaceDriver> make_process_runspace(
    std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> variables,
    std::size_t max_jobs);

/// The session's variables as they cross to workers. Throws std::invalid_argument naming the
/// variable and its type when one cannot cross.
std::vector<std::pair<std::string, std::string>> encoded_variables(const SessionState& session);

}  // namespace rsp::process
