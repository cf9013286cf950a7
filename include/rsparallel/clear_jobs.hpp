// rsparallel: Clear-RunspaceJobs. Disposes finished jobs; with force, stops the rest first.
//
// @code
//   rsp::receive_runspace_job(*pool, {.name = "scan", .keep = true});  // look, keep
//   std::size_t removed = rsp::clear_runspace_jobs(*pool, {.name = "scan"});
//   rsp::clear_runspace_jobs(*pool, {.force = true});  // stop and drop everything else
// @endcode
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "rsparallel/job.hpp"
#include "rsparallel/job_registry.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

/// Removes the finished matching jobs, received with `keep` or not received at all, and returns
/// how many it removed. With `force` it first stops matching running jobs (requesting a stop and
/// interrupting them, without waiting), ends not-started ones Stopped, and stops feeding the
/// matching batches (by name, or all when no name and no id is given), then removes them too.
/// Given a pool, only that pool's jobs match.
std::size_t clear_runspace_jobs(RunspacePool& pool, ClearOptions options = {});
std::size_t clear_runspace_jobs(const std::shared_ptr<RunspacePool>& pool,
                                ClearOptions options = {});
std::size_t clear_runspace_jobs(JobRegistry& registry, ClearOptions options = {});

}  // namespace rsp
