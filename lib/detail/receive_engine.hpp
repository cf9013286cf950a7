// The loop behind both forms of receive_runspace_job, shared with invoke_parallel.
#pragma once

#include <functional>
#include <vector>

#include "detail/registry_core.hpp"
#include "rsparallel/receive_job.hpp"

namespace rsp::detail {

std::vector<ReceivedJob> receive_all(RegistryCore& registry, const JobFilter& filter,
                                     const ReceiveOptions& options);

std::size_t receive_each(RegistryCore& registry, const JobFilter& filter,
                         const ReceiveOptions& options, const ReceiveCallback& on_job);

}  // namespace rsp::detail
