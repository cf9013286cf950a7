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
#include <memory>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "rsparallel/job.hpp"
#include "rsparallel/receive_job.hpp"
#include "rsparallel/runspace_job.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

/// The fields keep this order (designated initializers depend on it); new fields go last.
struct ParallelOptions {
  std::string name;
  std::chrono::milliseconds timeout{0};  // per job; 0 = none
  std::size_t slice_size = 1;            // inputs per job; 0 = automatic (about sqrt(n))
  std::size_t max_running = 0;           // 0 = the machine's cores
  bool show_progress = false;            // a progress bar on stderr, when it is a terminal
  std::filesystem::path log_file;        // the CSV job log
  std::shared_ptr<RunspacePool> pool;    // null: a pool of max_running runspaces for this call
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const ParallelOptions& options);

namespace detail {
/// ParallelOptions::max_running with 0 resolved to the machine's cores, also on a given pool.
std::size_t parallel_max_running(const ParallelOptions& options);
/// The pool invoke_parallel runs on: options.pool, or a new one sized by max_running.
std::shared_ptr<RunspacePool> parallel_pool(const ParallelOptions& options);
/// Receives every job of `batch` as it finishes (no time limit), with the log and progress bar
/// the options ask for, and returns them in input order.
std::vector<ReceivedJob> receive_batch_in_order(const JobBatch& batch,
                                                const ParallelOptions& options);
}  // namespace detail

/// Runs `script` over every input (see new_runspace_job for the forms a script may take) and
/// returns every job, received and cleared, in input order. Failed and timed-out jobs are in the
/// result with their state and errors; nothing is thrown for them.
template <std::ranges::input_range Range, class Script>
std::vector<ReceivedJob> invoke_parallel(Range&& inputs, Script script,
                                         ParallelOptions options = {}) {
  validate(options);
  std::shared_ptr<RunspacePool> pool = detail::parallel_pool(options);
  JobBatch batch =
      new_runspace_job(*pool, std::forward<Range>(inputs), std::move(script),
                       JobOptions{.name = options.name,
                                  .timeout = options.timeout,
                                  .slice_size = options.slice_size,
                                  .max_running = detail::parallel_max_running(options)});
  return detail::receive_batch_in_order(batch, options);
}

template <class T, class Script>
std::vector<ReceivedJob> invoke_parallel(std::initializer_list<T> inputs, Script script,
                                         ParallelOptions options = {}) {
  return invoke_parallel(std::vector<T>(inputs), std::move(script), std::move(options));
}

}  // namespace rsp
