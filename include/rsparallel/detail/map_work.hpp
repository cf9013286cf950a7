// Not for users: how parallel_map runs a slice of inputs as one job while keeping each input's
// outcome its own, and how the caller's thread merges the slices into the result vector.
//
// Each job's script (MapSlice) makes a MapChunk of one Result per input of its slice and hands
// it over as the job's first Output value (one std::any per job, not per input). It then writes
// the Results in order, publishing each with a release store of `published`. The merging side
// (MapCollector, on the caller's thread) reads a chunk only once its job is received: a job that
// Completed returned from its script, so all of its chunk is final; a job that was stopped or
// timed out may still be running (or be abandoned and run on), so only the first `published`
// Results are taken and the rest are filled from the job's state. The script never touches a
// Result after publishing it, and never touches the caller's vector, so a thread abandoned past
// stop_grace writes only into its own chunk, which it keeps alive.
#pragma once

#include <algorithm>
#include <any>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "rsparallel/detail/describe_exception.hpp"
#include "rsparallel/job.hpp"
#include "rsparallel/job_context.hpp"

namespace rsp {

template <class T>
struct Result;

namespace detail {

/// Throws JobFailed for Result::operator*: "input N ended STATE: ERROR".
[[noreturn]] void throw_result_failed(std::size_t input_index, JobState state,
                                      const std::vector<ErrorRecord>& errors);

/// Whether a parallel_map script takes the JobContext& (it may then write errors of its own).
template <class Script, class Input>
inline constexpr bool map_takes_context = std::is_invocable_v<Script&, Input&, JobContext&>;

template <class Script, class Input, bool = map_takes_context<Script, Input>>
struct MapCall {
  using type = std::invoke_result_t<Script&, Input&, JobContext&>;
};
template <class Script, class Input>
struct MapCall<Script, Input, false> {
  using type = std::invoke_result_t<Script&, Input&>;
};

/// The value type of a parallel_map Result: the script's return type, decayed; std::monostate
/// for a void script.
template <class Script, class Input>
using map_value_t =
    std::conditional_t<std::is_void_v<typename MapCall<Script, Input>::type>, std::monostate,
                       std::decay_t<typename MapCall<Script, Input>::type>>;

/// One job's Results, written in order by its script and published one at a time.
template <class R>
struct MapChunk {
  explicit MapChunk(std::size_t count) : results(count) {}
  std::vector<Result<R>> results;
  std::atomic<std::size_t> published{0};  // results[0, published) are final
};

/// The script parallel_map hands to the engine: a slice of inputs, one Result each.
template <class Script, class Input, class R>
class MapSlice {
 public:
  explicit MapSlice(Script script) : script_(std::move(script)) {}

  void operator()(std::span<const Input> inputs, JobContext& context) {
    auto chunk = std::make_shared<MapChunk<R>>(inputs.size());
    context.write_output(std::any(chunk));
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      if (context.stop_requested()) return;  // the rest take the job's state (Stopped, TimedOut)
      Result<R>& slot = chunk->results[k];
      try {
        // The engine's copies of the inputs are not const: a script taking `Input&` may change
        // its own copy, as it may in new_runspace_job.
        Input& input = const_cast<Input&>(inputs[k]);
        call(slot, input, context);
        slot.state = JobState::Completed;
      } catch (...) {
        // A throw caused by the job's stop (check_stop, an interrupt) is the stop's, not the
        // input's: the input takes the job's state like the ones after it.
        if (context.stop_requested()) return;
        slot.value.reset();
        slot.state = JobState::Failed;
        slot.errors.push_back(describe_current_exception());
      }
      chunk->published.store(k + 1, std::memory_order_release);
    }
  }

 private:
  void call(Result<R>& slot, Input& input, JobContext& context) {
    if constexpr (map_takes_context<Script, Input>) {
      if constexpr (std::is_same_v<typename MapCall<Script, Input>::type, void>) {
        std::invoke(script_, input, context);
        slot.value.emplace();
      } else {
        slot.value.emplace(std::invoke(script_, input, context));
      }
    } else {
      if constexpr (std::is_same_v<typename MapCall<Script, Input>::type, void>) {
        std::invoke(script_, input);
        slot.value.emplace();
      } else {
        slot.value.emplace(std::invoke(script_, input));
      }
    }
  }

  Script script_;
};

/// Merges received jobs into the result vector, on the caller's thread.
template <class R>
class MapCollector {
 public:
  explicit MapCollector(std::vector<Result<R>>& results) : results_(results) {}

  void operator()(ReceivedJob& job) {
    const std::size_t base = job.input_index;
    const std::size_t count = job.input_count;
    if (results_.size() < base + count) results_.resize(base + count);  // unsized ranges
    std::shared_ptr<MapChunk<R>> chunk;
    if (!job.output.empty()) {
      if (auto* handed = std::any_cast<std::shared_ptr<MapChunk<R>>>(&job.output.front()))
        chunk = std::move(*handed);
    }
    // Only what was published: a stopped job's script may still be writing the rest.
    std::size_t done = 0;
    if (chunk) done = std::min(chunk->published.load(std::memory_order_acquire), count);
    for (std::size_t k = 0; k < done; ++k) results_[base + k] = std::move(chunk->results[k]);

    // The job's errors: what its script wrote (write_error) and what ended it (a timeout).
    std::vector<ErrorRecord> written, ending;
    for (ErrorRecord& error : job.errors)
      (error.type == "rsp::WriteError" ? written : ending).push_back(std::move(error));
    const JobState rest = job.state == JobState::Completed ? JobState::Stopped : job.state;
    for (std::size_t k = done; k < count; ++k) {
      Result<R>& result = results_[base + k];
      result.state = rest;
      result.value.reset();
      result.errors = ending;
    }
    for (std::size_t k = 0; k < count; ++k) {
      Result<R>& result = results_[base + k];
      result.input_index = base + k;
      // Written errors cannot be told apart by input within a slice: each input of the slice
      // gets them (exact when the slice is one input, the default for a script taking
      // JobContext&).
      if (!written.empty())
        result.errors.insert(result.errors.begin(), written.begin(), written.end());
    }
  }

  /// After the batch: inputs no job covered (the call was cancelled before they were read)
  /// end Stopped; `input_count` is the range's size when known.
  void account_for_unfed(std::optional<std::size_t> input_count) {
    if (input_count && results_.size() < *input_count) results_.resize(*input_count);
    for (std::size_t at = 0; at < results_.size(); ++at) {
      if (results_[at].state != JobState::NotStarted) continue;
      results_[at].state = JobState::Stopped;
      results_[at].input_index = at;
    }
  }

 private:
  std::vector<Result<R>>& results_;
};

}  // namespace detail
}  // namespace rsp
