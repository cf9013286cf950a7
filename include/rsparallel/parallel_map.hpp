// rsparallel: typed results in one call. parallel_map runs a script over every input and returns
// one rsp::Result per input, in input order, whatever happened to it: Completed with its value,
// or Failed, Stopped or TimedOut with its errors.
//
// @code
//   std::vector<std::string> paths = list_files();
//   std::vector<rsp::Result<std::size_t>> sizes =
//       rsp::parallel_map(paths, [](const std::string& path) { return file_size(path); });
//   for (std::size_t i = 0; i < sizes.size(); ++i) {
//     if (sizes[i].ok()) std::cout << paths[i] << ' ' << *sizes[i] << '\n';
//     else std::cerr << paths[i] << ": " << sizes[i].errors.back().message << '\n';
//   }
//   // With a timeout: each input is its own job, and the timeout is that input's.
//   auto pages = rsp::parallel_map(urls, fetch, {.timeout = std::chrono::seconds(5)});
// @endcode
//
// Slicing. Without a timeout, inputs are batched onto runspaces in slices (ParallelOptions::
// slice_size unset = automatic, about sqrt(n) inputs per job; 0 = automatic too), which makes a
// million trivial inputs cost a few nanoseconds each. A slice changes no meaning: each input is
// called on its own, a throw makes only that input Failed (the slice goes on), and once the job
// is stopped the inputs it had not finished are Stopped. Memory is about sizeof(Result<R>) per
// input plus the slices in flight: no job record and no std::any per finished input.
//
// What costs a slice of one (one job per input, about a microsecond of engine work each):
// - A timeout. The engine's timeout is per job, so with ParallelOptions::timeout set every input
//   is its own job and the timeout means exactly "this input"; an explicit slice_size above 1
//   together with a timeout is rejected (std::invalid_argument naming ParallelOptions::
//   slice_size) rather than silently meaning "this slice".
// - A script taking rsp::JobContext&, by default: what it writes with write_error belongs to its
//   job, and one input per job keeps Result::errors exactly that input's. With an explicit
//   slice_size above 1 such a script runs sliced, and each input of a slice gets the errors
//   written by the whole slice (the job's streams cannot be split by input).
// The other streams a script writes (write_output, warnings, verbose, ...) are not part of a
// Result; use invoke_parallel to get them.
//
// A void script gives Result<std::monostate>: the outcome and errors of each input, with
// `value` set (to std::monostate) when it Completed.
//
// Cancelling: ParallelOptions::stop works as for invoke_parallel; the call returns within about
// stop_grace with a Result for every input (those not run are Stopped). For a range of unknown
// size, inputs never read are not known and get no Result.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "rsparallel/detail/map_work.hpp"
#include "rsparallel/invoke_parallel.hpp"
#include "rsparallel/job.hpp"
#include "rsparallel/options.hpp"

namespace rsp {

/// What happened to one input of parallel_map.
///
/// Thread Safety: a plain value. Distinct objects: safe. Shared objects: const use is safe.
template <class T>
struct Result {
  JobState state = JobState::NotStarted;  // Completed, Failed, Stopped or TimedOut
  std::optional<T> value;                 // set when Completed
  std::vector<ErrorRecord> errors;        // what the script wrote or threw, or what stopped it
  std::size_t input_index = 0;            // the input's position in the range (an addition)

  bool ok() const noexcept { return state == JobState::Completed; }
  /// The value; throws rsp::JobFailed naming the input, its state and its last error otherwise.
  const T& operator*() const {
    if (!ok() || !value) detail::throw_result_failed(input_index, state, errors);
    return *value;
  }
  const T* operator->() const { return &**this; }
};

namespace detail {
/// The slice size parallel_map uses: see the top of this header. Throws std::invalid_argument
/// for a slice above 1 together with a timeout.
std::size_t map_slice_size(const ParallelOptions& options, bool takes_context);
/// options.pool, or a pool for the call whose streaming receiver may have only a few MiB of
/// finished slices (`slice` inputs of `result_size` bytes) waiting for it.
std::shared_ptr<RunspacePool> map_pool(const ParallelOptions& options, std::size_t slice,
                                       std::size_t result_size, std::optional<std::size_t> count);
}  // namespace detail

/// Runs `script` over every input and returns one Result per input, in input order. The script
/// takes one input (`const T&`, `T&` or `T`), optionally followed by rsp::JobContext&; it is
/// called from several runspaces at once. Inputs are read lazily as for new_runspace_job (an
/// lvalue range is referenced, an rvalue one owned). Nothing is thrown for an input's failure;
/// invalid options throw std::invalid_argument before any input runs.
template <std::ranges::input_range Range, class Script>
auto parallel_map(Range&& inputs, Script script, ParallelOptions options = {}) {
  using Input = std::ranges::range_value_t<std::remove_reference_t<Range>>;
  static_assert(
      std::is_invocable_v<Script&, Input&, JobContext&> || std::is_invocable_v<Script&, Input&>,
      "rsp::parallel_map: the script must take one input, optionally followed by "
      "rsp::JobContext& (a span script has one outcome per slice, not per input: use "
      "invoke_parallel)");
  using R = detail::map_value_t<Script, Input>;
  static_assert(std::is_move_constructible_v<R>,
                "rsp::parallel_map: the script's return type must be movable");
  validate(options);
  constexpr bool takes_context = detail::map_takes_context<Script, Input>;
  std::optional<std::size_t> count;
  if constexpr (std::ranges::sized_range<std::remove_reference_t<Range>>)
    count = static_cast<std::size_t>(std::ranges::size(inputs));
  ParallelOptions job_options = options;
  job_options.slice_size = detail::map_slice_size(options, takes_context);

  std::vector<Result<R>> results;
  if (count) results.resize(*count);
  detail::MapCollector<R> collector(results);
  if (options.stop.stop_requested()) {  // cancelled already: run nothing
    collector.account_for_unfed(count);
    return results;
  }
  std::shared_ptr<RunspacePool> pool =
      detail::map_pool(job_options, *job_options.slice_size, sizeof(Result<R>), count);
  JobBatch batch = new_runspace_job(*pool, std::forward<Range>(inputs),
                                    detail::MapSlice<Script, Input, R>(std::move(script)),
                                    detail::parallel_job_options(job_options, 0));
  {
    std::stop_callback cancel(options.stop, [batch]() mutable { batch.stop(); });
    detail::receive_batch_each(batch, job_options, std::ref(collector));
  }
  collector.account_for_unfed(count);
  return results;
}

template <class T, class Script>
auto parallel_map(std::initializer_list<T> inputs, Script script, ParallelOptions options = {}) {
  return parallel_map(std::vector<T>(inputs), std::move(script), std::move(options));
}

}  // namespace rsp
