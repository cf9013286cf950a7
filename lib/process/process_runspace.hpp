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

/// A pool's session as it crosses to each of its workers, prepared once per pool.
struct WorkerSession {
  std::vector<std::pair<std::string, std::string>> variables;  // name, encoded value
  std::string open_hook;  // the registered names of SessionState::open and close; empty: none
  std::string close_hook;
};

/// Throws std::invalid_argument naming a variable that cannot cross, with its type.
WorkerSession worker_session(const SessionState& session);

/// The process runspace's side of the seam. `max_jobs` replaces the worker after that many jobs
/// (0: never).
std::unique_ptr<detail::RunspaceDriver> make_process_runspace(
    std::shared_ptr<const WorkerSession> session, std::size_t max_jobs);

}  // namespace rsp::process
