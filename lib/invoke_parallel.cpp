#include "rsparallel/invoke_parallel.hpp"

#include <algorithm>
#include <thread>

#include "detail/access.hpp"
#include "detail/pool_core.hpp"
#include "detail/receive_engine.hpp"
#include "detail/registry_core.hpp"
#include "detail/validate.hpp"
#include "rsparallel/progress_bar.hpp"

namespace rsp {

void validate(const ParallelOptions& options) {
  detail::require_not_negative("ParallelOptions::timeout", options.timeout);
  detail::require_not_negative("ParallelOptions::stop_grace", options.stop_grace);
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

std::shared_ptr<RunspacePool> parallel_pool(const ParallelOptions& options,
                                            std::size_t max_unreceived) {
  if (options.pool) return options.pool;
  std::size_t runspaces = parallel_max_running(options);
  return new_runspace_pool({.min_runspaces = runspaces,
                            .max_runspaces = runspaces,
                            .stop_grace = options.stop_grace,
                            .max_unreceived = max_unreceived});
}

JobOptions parallel_job_options(const ParallelOptions& options, std::size_t default_slice) {
  return JobOptions{.name = options.name,
                    .timeout = options.timeout,
                    .slice_size = options.slice_size.value_or(default_slice),
                    .max_running = parallel_max_running(options)};
}

void receive_batch_each(const JobBatch& batch, const ParallelOptions& options,
                        const std::function<void(ReceivedJob&)>& on_job) {
  BatchCore& core = *Access::core(batch);
  JobFilter mine;
  mine.batch = &core;
  ReceiveOptions receive{.timeout = std::chrono::milliseconds(0), .log_file = options.log_file};
  std::unique_ptr<ProgressBar> bar = options.show_progress ? ProgressBar::for_stderr() : nullptr;
  if (bar) receive.on_progress = [&](const Progress& progress) { bar->update(progress); };
  std::shared_ptr<RegistryCore> registry = core.registry.lock();  // the pool holds it
  receive_each(*registry, mine, receive, on_job);
  if (bar) bar->finish();
}

std::vector<ReceivedJob> receive_batch_in_order(const JobBatch& batch,
                                                const ParallelOptions& options) {
  std::vector<ReceivedJob> jobs;
  receive_batch_each(batch, options, [&](ReceivedJob& job) { jobs.push_back(std::move(job)); });
  std::sort(jobs.begin(), jobs.end(), [](const ReceivedJob& a, const ReceivedJob& b) {
    return a.input_index < b.input_index;
  });
  return jobs;
}

namespace {

void add_unfed(std::vector<ReceivedJob>& into, std::size_t from, std::size_t to, std::size_t slice,
               const std::string& name) {
  for (std::size_t at = from; at < to; at += slice) {
    ReceivedJob job;
    job.name = name;
    job.state = JobState::Stopped;
    job.input_index = at;
    job.input_count = std::min(slice, to - at);
    into.push_back(std::move(job));
  }
}

}  // namespace

void account_for_unfed(std::vector<ReceivedJob>& jobs, std::optional<std::size_t> input_count,
                       std::size_t slice, const std::string& name) {
  slice = std::max<std::size_t>(slice, 1);
  std::size_t covered = 0;
  bool gap = false;
  for (const ReceivedJob& job : jobs) {
    gap = gap || job.input_index > covered;
    covered = std::max(covered, job.input_index + job.input_count);
  }
  if (!gap && (!input_count || covered >= *input_count)) return;
  std::vector<ReceivedJob> all;
  all.reserve(jobs.size());
  covered = 0;
  for (ReceivedJob& job : jobs) {
    if (job.input_index > covered) add_unfed(all, covered, job.input_index, slice, name);
    covered = std::max(covered, job.input_index + job.input_count);
    all.push_back(std::move(job));
  }
  if (input_count) add_unfed(all, covered, *input_count, slice, name);
  jobs = std::move(all);
}

}  // namespace detail
}  // namespace rsp
