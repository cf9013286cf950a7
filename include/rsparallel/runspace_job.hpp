// rsparallel: New-RunspaceJob. Turns an input range and a script into jobs on a pool.
//
// @code
//   auto pool = rsp::new_runspace_pool({.max_runspaces = 10});
//   // 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10
//   rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(1, 11),
//       [](int i) { return i * 10; }, {.name = "tens", .max_running = 10});
//   // The $args form: each job gets a slice of three inputs.
//   rsp::new_runspace_job(*pool, std::views::iota(1, 11),
//       [](std::span<const int> args) { return std::accumulate(args.begin(), args.end(), 0); },
//       {.name = "sums", .slice_size = 3});
//   batch.wait();
// @endcode
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <vector>

#include "rsparallel/detail/job_work.hpp"
#include "rsparallel/options.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

namespace detail {
class BatchCore;
struct Access;
}  // namespace detail

/// The jobs of one new_runspace_job call. Copies share the same batch.
///
/// Thread Safety: Distinct objects: safe. Shared objects: safe.
class JobBatch {
 public:
  JobBatch() = default;

  const std::string& name() const noexcept;
  /// Until every input was made a job and every job finished (received or not).
  void wait() const;
  /// wait() for at most `timeout`; true when the batch is done.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
    return wait_until(std::chrono::steady_clock::now() +
                      std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  /// Stops feeding the batch, ends its not-started jobs Stopped, and requests a stop of (and
  /// interrupts) its running ones. Returns at once; never waits for a job.
  void stop();
  /// Every input was made a job (or the batch was stopped) and every job finished.
  bool done() const;
  /// Jobs created so far.
  std::size_t created() const;
  /// Jobs this batch will create when its input range is sized, else nothing.
  std::optional<std::size_t> expected() const;
  /// The inputs each job gets (JobOptions::slice_size, with 0 resolved).
  std::size_t slice_size() const;

 private:
  friend struct detail::Access;  // the library's own components make batches through it

  explicit JobBatch(std::shared_ptr<detail::BatchCore> core) noexcept : core_(std::move(core)) {}

  std::shared_ptr<detail::BatchCore> core_;
};

namespace detail {
/// 0 = automatic: about sqrt(n) for n sized inputs, 64 for a range of unknown size.
std::size_t resolve_slice_size(std::size_t requested, std::optional<std::size_t> input_count);

JobBatch submit_batch(RunspacePool& pool, std::unique_ptr<InputFeed> feed,
                      std::shared_ptr<void> script, JobOptions options, std::size_t slice,
                      std::optional<std::size_t> input_count);
/// A process pool runs registered scripts only: throws std::invalid_argument otherwise.
void require_runnable(const RunspacePool& pool, bool registered_script);
}  // namespace detail

/// New-RunspaceJob: returns at once. Inputs are pulled lazily as places under the pool's
/// max_queue free. An lvalue range is referenced and must outlive the batch; an rvalue range is
/// owned. Each job holds its own inputs, so a job never refers into the range: they are copied
/// from an lvalue range or a view (so the element type must be copyable) and moved out of an
/// owned container (so `std::move(vector_of_unique_ptrs)` works).
///
/// The script takes one input (`const T&`, `T&` or `T`) or a `std::span<const T>` of its slice,
/// optionally followed by `rsp::JobContext&`. A one-input script given slices runs once per
/// input in the job. A non-void return value is written to Output. It is called from several
/// runspaces at once.
template <std::ranges::input_range Range, class Script>
JobBatch new_runspace_job(RunspacePool& pool, Range&& inputs, Script script,
                          JobOptions options = {}) {
  using R = std::remove_reference_t<Range>;
  using Input = std::ranges::range_value_t<R>;
  using Kind = detail::ScriptKind<Script, Input>;
  static_assert(Kind::item || Kind::slice,
                "rsp::new_runspace_job: the script must take one input (optionally followed by "
                "rsp::JobContext&) or a std::span<const Input> of its slice");
  // An owned container's elements are moved into the jobs; from an lvalue range (or a view,
  // which may refer to the caller's elements) each job gets a copy.
  constexpr bool moves_inputs = !std::is_lvalue_reference_v<Range> && !std::ranges::view<R>;
  constexpr bool can_take_inputs =
      std::move_constructible<Input> &&
      (moves_inputs ? std::constructible_from<Input, std::ranges::range_rvalue_reference_t<R>>
                    : std::constructible_from<Input, std::ranges::range_reference_t<R>>);
  static_assert(can_take_inputs || moves_inputs,
                "rsp::new_runspace_job: the inputs are copied per job from an lvalue range (or "
                "a view), so the element type must be copyable; or pass the range as an rvalue "
                "(std::move(inputs)) to have it owned and its elements moved into the jobs");
  static_assert(can_take_inputs || !moves_inputs,
                "rsp::new_runspace_job: the inputs are moved into the jobs from the owned range, "
                "so the element type must be move-constructible");
  if constexpr (!can_take_inputs || !(Kind::item || Kind::slice)) {
    return JobBatch();  // not reached: only the static_asserts above are reported
  } else {
    validate(options);
    detail::require_runnable(pool, detail::is_remote_script_v<Script>);
    std::optional<std::size_t> count;
    if constexpr (std::ranges::sized_range<R>)
      count = static_cast<std::size_t>(std::ranges::size(inputs));
    std::size_t slice = detail::resolve_slice_size(options.slice_size, count);
    auto owned_script = std::make_shared<Script>(std::move(script));
    std::unique_ptr<detail::InputFeed> feed;
    if constexpr (std::is_lvalue_reference_v<Range>) {
      feed = std::make_unique<detail::RangeFeed<R, Script, false>>(&inputs, owned_script.get());
    } else {
      feed = std::make_unique<detail::RangeFeed<R, Script, true>>(std::move(inputs),
                                                                  owned_script.get());
    }
    return detail::submit_batch(pool, std::move(feed), std::move(owned_script), std::move(options),
                                slice, count);
  }
}

template <std::ranges::input_range Range, class Script>
JobBatch new_runspace_job(const std::shared_ptr<RunspacePool>& pool, Range&& inputs, Script script,
                          JobOptions options = {}) {
  if (!pool) throw std::invalid_argument("rsp::new_runspace_job: pool is null");
  return new_runspace_job(*pool, std::forward<Range>(inputs), std::move(script),
                          std::move(options));
}

/// `new_runspace_job(pool, {1, 2, 3}, script)`: the list is copied.
template <class T, class Script>
JobBatch new_runspace_job(RunspacePool& pool, std::initializer_list<T> inputs, Script script,
                          JobOptions options = {}) {
  return new_runspace_job(pool, std::vector<T>(inputs), std::move(script), std::move(options));
}

template <class T, class Script>
JobBatch new_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                          std::initializer_list<T> inputs, Script script, JobOptions options = {}) {
  if (!pool) throw std::invalid_argument("rsp::new_runspace_job: pool is null");
  return new_runspace_job(*pool, std::vector<T>(inputs), std::move(script), std::move(options));
}

}  // namespace rsp
