#include "rsparallel/invoke_parallel.hpp"

#include <algorithm>
#include <thread>

#include "detail/pool_core.hpp"
#include "detail/receive_engine.hpp"
#include "detail/registry_core.hpp"
#include "detail/validate.hpp"
#include "rsparallel/progress_bar.hpp"

namespace rsp {

void validate(const ParallelOptions& options) {
  detail::require_not_negative("ParallelOptions::timeout", options.timeout);
  if (options.max_running > 65535) {
    detail::reject("ParallelOptions::max_running", "0..65535 (0 = the machine's cores)",
                   std::to_string(options.max_running));
  }
}

namespace detail {

std::size_t parallel_max_running(const ParallelOptions& options) {
  if (options.max_running != 0) return options.max_running;
  return std::max(1u, std::thread::hardware_concurrency());
}

std::shared_ptr<RunspacePool> parallel_pool(const ParallelOptions& options) {
  if (options.pool) return options.pool;
  std::size_t runspaces = parallel_max_running(options);
  return new_runspace_pool({.min_runspaces = runspaces, .max_runspaces = runspaces});
}

std::vector<ReceivedJob> receive_batch_in_order(const JobBatch& batch,
                                                const ParallelOptions& options) {
  BatchCore& core = *batch.core();
  JobFilter mine;
  mine.batch = &core;
  ReceiveOptions receive{.timeout = std::chrono::milliseconds(0), .log_file = options.log_file};
  std::unique_ptr<ProgressBar> bar = options.show_progress ? ProgressBar::for_stderr() : nullptr;
  if (bar) receive.on_progress = [&](const Progress& progress) { bar->update(progress); };
  std::shared_ptr<RegistryCore> registry = core.registry.lock();  // the pool holds it
  std::vector<ReceivedJob> jobs;
  receive_each(*registry, mine, receive, [&](ReceivedJob& job) { jobs.push_back(std::move(job)); });
  if (bar) bar->finish();
  std::sort(jobs.begin(), jobs.end(), [](const ReceivedJob& a, const ReceivedJob& b) {
    return a.input_index < b.input_index;
  });
  return jobs;
}

}  // namespace detail
}  // namespace rsp
