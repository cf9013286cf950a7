#include "detail/job_record.hpp"

#include "detail/batch_core.hpp"
#include "detail/clock.hpp"

namespace rsp::detail {

bool JobRecord::try_start(const std::shared_ptr<RunspaceSlot>& runspace) {
  Lock lock(mutex);
  if (state.load(std::memory_order_relaxed) != JobState::NotStarted) return false;
  slot = runspace;
  ++batch->running;  // here, so a stop racing the start never sees it negative
  started_at = Clock::now();
  data.started = WallClock::at(started_at);
  data.state = JobState::Running;
  state.store(JobState::Running);
  return true;
}

std::shared_ptr<RunspaceSlot> JobRecord::runspace() {
  Lock lock(mutex);
  return slot.lock();
}

std::optional<JobState> JobRecord::try_finish(JobState final_state, Clock::time_point now,
                                              ErrorRecord* error, bool only_running) {
  Lock lock(mutex);
  JobState previous = state.load(std::memory_order_relaxed);
  if (is_finished(previous) || (only_running && previous != JobState::Running)) return std::nullopt;
  if (previous == JobState::Running) {
    // From the start stamp, not a fresh conversion: the clocks' offset may have been resampled
    // since, and finished - started must be the duration.
    data.duration = now - started_at;
    data.finished = data.started +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(data.duration);
  } else {
    data.finished = WallClock::at(now);
  }
  if (error != nullptr) data.errors.push_back(std::move(*error));
  data.state = final_state;
  state.store(final_state);
  return previous;
}

}  // namespace rsp::detail
