// One job from creation to disposal: what receivers get, plus the control fields that the
// runspace, the deadline watcher and stop requests race on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "rsparallel/detail/job_work.hpp"
#include "rsparallel/job.hpp"

#include "detail/mutex.hpp"

namespace rsp::detail {

class BatchCore;
struct RunspaceSlot;

struct JobRecord {
  // Set before the job reaches a runspace; never changed after.
  JobId id = 0;
  std::size_t input_index = 0;
  // Written by the running job under `mutex` until the state is final; read-only after that
  // (so read without the lock then, which the analysis cannot express: not annotated).
  ReceivedJob data;
  Mutex mutex;  // lock order: a leaf, after RegistryCore::mutex_ (see pool_core.hpp)
  std::atomic<JobState> state{JobState::NotStarted};
  std::shared_ptr<BatchCore> batch;
  WorkBox work;  // touched only by the runspace that runs the job
  std::weak_ptr<RunspaceSlot> slot RSP_GUARDED_BY(mutex);  // the runspace it started on
  std::chrono::steady_clock::time_point started_at{};
  // Guarded by RegistryCore::mutex_, which Clang's analysis cannot name from here; only the
  // registry touches them.
  bool received = false;
  bool published = false;         // in the registry's finished list
  std::uint64_t publish_seq = 0;  // order of publication in the registry
  // The context the job's script sees, made when it starts; touched only by the runspace that
  // runs the job (and by threads the script starts, through the script's reference).
  std::optional<JobContext> context;

  /// The job's own context, made once, when its runspace starts it.
  JobContext& open_context(Runspace& runspace, std::stop_token token) {
    return context.emplace(ContextKey{}, *this, runspace, std::move(token));
  }

  /// NotStarted -> Running on `runspace`. False when the job was stopped before it could start.
  bool try_start(const std::shared_ptr<RunspaceSlot>& runspace);
  /// The runspace the job started on, if it started and that runspace still exists.
  std::shared_ptr<RunspaceSlot> runspace();

  /// NotStarted or Running (only Running when `only_running`) -> `final_state`, stamped `now`,
  /// adding `error` if given. Exactly one caller wins and gets the state it left. Only
  /// RegistryCore::finish calls this, publishing the job in the same step.
  std::optional<JobState> try_finish(JobState final_state,
                                     std::chrono::steady_clock::time_point now, ErrorRecord* error,
                                     bool only_running);

  /// Appends under the lock while the job is still unfinished; drops the write afterwards.
  template <class Fn>
  void write(Fn&& fn) {
    Lock lock(mutex);
    if (!is_finished(state.load(std::memory_order_relaxed))) fn(data);
  }
};

using JobPtr = std::shared_ptr<JobRecord>;

}  // namespace rsp::detail
