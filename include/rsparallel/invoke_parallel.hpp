// rsparallel: Invoke-Parallel in one call. Makes (or borrows) a pool, runs every input,
// receives and clears every job, and returns them in input order.
//
// @code
//   // 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10
//   auto jobs = rsp::invoke_parallel(std::views::iota(1, 11), [](int i) { return i * i; },
//                                    {.max_running = 10});
//   for (int square : rsp::outputs_as<int>(jobs)) std::cout << square << '\n';
// @endcode
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "rsparallel/job.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/receive_job.hpp"
#include "rsparallel/runspace_job.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

namespace detail {
/// ParallelOptions::max_running with 0 resolved to the machine's cores, also on a given pool.
std::size_t parallel_max_running(const ParallelOptions& options);
/// The pool invoke_parallel runs on: options.pool, or a new one sized by max_running, with
/// options.stop_grace.
/// `max_unreceived` as in PoolOptions (0 = the pool's default).
std::shared_ptr<RunspacePool> parallel_pool(const ParallelOptions& options,
                                            std::size_t max_unreceived = 0);
/// The JobOptions of the call's batch; an unset slice_size becomes `default_slice`.
JobOptions parallel_job_options(const ParallelOptions& options, std::size_t default_slice);
/// Receives every job of `batch` as it finishes (no time limit), with the log and progress bar
/// the options ask for, handing each to `on_job` on the calling thread.
void receive_batch_each(const JobBatch& batch, const ParallelOptions& options,
                        const std::function<void(ReceivedJob&)>& on_job);
/// receive_batch_each, collected and returned in input order.
std::vector<ReceivedJob> receive_batch_in_order(const JobBatch& batch,
                                                const ParallelOptions& options);
/// After a cancelled call: adds a Stopped job (id 0, never created) for each run of inputs in
/// [0, input_count) no job covered, `slice` inputs each, keeping `jobs` in input order.
void account_for_unfed(std::vector<ReceivedJob>& jobs, std::optional<std::size_t> input_count,
                       std::size_t slice, const std::string& name);
}  // namespace detail

/// Runs `script` over every input (see new_runspace_job for the forms a script may take) and
/// returns every job, received and cleared, in input order. Failed and timed-out jobs are in the
/// result with their state and errors; nothing is thrown for them. Once `options.stop` is
/// requested the call returns within about options.stop_grace (see ParallelOptions::stop).
template <std::ranges::input_range Range, class Script>
std::vector<ReceivedJob> invoke_parallel(Range&& inputs, Script script,
                                         ParallelOptions options = {}) {
  validate(options);
  std::optional<std::size_t> count;
  if constexpr (std::ranges::sized_range<std::remove_reference_t<Range>>)
    count = static_cast<std::size_t>(std::ranges::size(inputs));
  std::vector<ReceivedJob> jobs;
  if (options.stop.stop_requested()) {  // cancelled already: run nothing
    std::size_t slice = detail::parallel_job_options(options, 1).slice_size;
    detail::account_for_unfed(jobs, count, detail::resolve_slice_size(slice, count), options.name);
    return jobs;
  }
  std::shared_ptr<RunspacePool> pool = detail::parallel_pool(options);
  JobBatch batch = new_runspace_job(*pool, std::forward<Range>(inputs), std::move(script),
                                    detail::parallel_job_options(options, 1));
  {
    // Runs batch.stop() on the requesting thread (or here, if already requested).
    std::stop_callback cancel(options.stop, [batch]() mutable { batch.stop(); });
    jobs = detail::receive_batch_in_order(batch, options);
  }
  if (options.stop.stop_requested())
    detail::account_for_unfed(jobs, count, batch.slice_size(), options.name);
  return jobs;
}

template <class T, class Script>
std::vector<ReceivedJob> invoke_parallel(std::initializer_list<T> inputs, Script script,
                                         ParallelOptions options = {}) {
  return invoke_parallel(std::vector<T>(inputs), std::move(script), std::move(options));
}

}  // namespace rsp
