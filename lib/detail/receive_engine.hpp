// The loop behind both forms of receive_runspace_job, shared with invoke_parallel.
#pragma once

#include <functional>
#include <vector>

#include "detail/registry_core.hpp"
#include "rsparallel/options.hpp"

namespace rsp::detail {

/// With `complete`, sets it to whether every matching job had finished (ReceiveResult::complete).
std::vector<ReceivedJob> receive_all(RegistryCore& registry, const JobFilter& filter,
                                     const ReceiveOptions& options, bool* complete = nullptr);

ReceiveResult receive_each(RegistryCore& registry, const JobFilter& filter,
                           const ReceiveOptions& options, const ReceiveCallback& on_job);

}  // namespace rsp::detail
