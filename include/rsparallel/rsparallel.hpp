// rsparallel: PowerShell's runspace jobs for C++. The umbrella header.
//
// @code
//   #include <rsparallel/rsparallel.hpp>
//
//   auto pool = rsp::new_runspace_pool({.max_runspaces = 8});
//   rsp::new_runspace_job(*pool, std::views::iota(0, 10'000), [](int i) { return i * i; },
//                         {.name = "squares", .timeout = std::chrono::seconds(5)});
//   for (auto& job : rsp::receive_runspace_job(*pool, {.wait = true}))
//     std::cout << job.id << ' ' << rsp::to_string(job.state) << '\n';
//   rsp::clear_runspace_jobs(*pool);
// @endcode
#pragma once

#include "rsparallel/clear_jobs.hpp"
#include "rsparallel/invoke_parallel.hpp"
#include "rsparallel/job.hpp"
#include "rsparallel/job_context.hpp"
#include "rsparallel/job_registry.hpp"
#include "rsparallel/lines.hpp"
#include "rsparallel/parallel_map.hpp"
#include "rsparallel/progress_bar.hpp"
#include "rsparallel/receive_job.hpp"
#include "rsparallel/runspace.hpp"
#include "rsparallel/runspace_job.hpp"
#include "rsparallel/runspace_pool.hpp"
#include "rsparallel/version.hpp"
