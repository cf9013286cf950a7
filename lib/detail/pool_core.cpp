#include "detail/pool_core.hpp"

#include <algorithm>
#include <functional>

#include "detail/any_text.hpp"
#include "detail/brief_lock.hpp"
#include "detail/clock.hpp"
#include "detail/errors.hpp"
#include "detail/registry_core.hpp"
#include "detail/runspace_thread.hpp"
#include "process/process_runspace.hpp"

namespace rsp::detail {
namespace {

// After a runspace thread could not start, none is tried for this long: a system out of
// threads would otherwise be asked again by every feed round.
constexpr std::chrono::milliseconds kSpawnRetryPause{100};

ErrorRecord timeout_error(std::chrono::milliseconds timeout) {
  std::string message = "timed out after " + std::to_string(timeout.count()) + " ms";
  return ErrorRecord{message, "rsp::JobTimedOut", std::make_exception_ptr(JobTimedOut(message))};
}

// The pool's copy of the session: C strings become std::string now, while the caller's memory is
// still there, not when a runspace opens on demand later.
std::shared_ptr<const SessionState> owned_session(SessionState session) {
  for (auto& [name, value] : session.variables) own_text(value);
  return std::make_shared<const SessionState>(std::move(session));
}

}  // namespace

RunspaceSlot::RunspaceSlot(std::size_t index, std::shared_ptr<const SessionState> session_state)
    : runspace(index, session_state->variables), session(std::move(session_state)) {}

RunspaceSlot::~RunspaceSlot() = default;

PoolCore::PoolCore(PoolOptions options, std::shared_ptr<RegistryCore> registry)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      session_(owned_session(options_.session)),
      worker_session_(
          options_.isolation == Isolation::Process
              ? std::make_shared<const process::WorkerSession>(process::worker_session(*session_))
              : nullptr),
      watch_(registry_->watch_io()),
      factory_(options_.max_queue) {}

PoolCore::~PoolCore() = default;

void PoolCore::start() {
  watch_.bind(weak_from_this());
  Released released;
  Lock lock(mutex_);
  for (std::size_t i = 0; i < options_.min_runspaces; ++i) spawn_locked(released);
}

// ---- runspaces ----------------------------------------------------------------------------

std::size_t PoolCore::take_index_locked() {
  if (free_indices_.empty()) return next_index_++;
  std::pop_heap(free_indices_.begin(), free_indices_.end(), std::greater<>());
  std::size_t index = free_indices_.back();
  free_indices_.pop_back();
  return index;
}

void PoolCore::release_index_locked(std::size_t index) {
  free_indices_.push_back(index);
  std::push_heap(free_indices_.begin(), free_indices_.end(), std::greater<>());
}

bool PoolCore::may_spawn_locked(Clock::time_point now) const {
  return !closing_.load() && now >= spawn_retry_at_;
}

bool PoolCore::spawn_locked(Released& released, std::optional<std::size_t> reuse) {
  // Threads of runspaces closed for idleness are done or nearly; reap the finished ones (their
  // session variables are destroyed once the pool's lock is released).
  auto reaped = std::stable_partition(retired_.begin(), retired_.end(), [](const auto& slot) {
    return !slot->driver->join_until(Clock::now());
  });
  released.slots.insert(released.slots.end(), std::make_move_iterator(reaped),
                        std::make_move_iterator(retired_.end()));
  retired_.erase(reaped, retired_.end());
  std::size_t index = reuse ? *reuse : take_index_locked();
  try {
    auto slot = std::make_shared<RunspaceSlot>(index, session_);
    Lock slot_lock(slot->mutex);
    slot->driver =
        options_.isolation == Isolation::Process
            ? process::make_process_runspace(worker_session_, options_.max_jobs_per_runspace)
            : make_thread_runspace();
    slot->driver->start(shared_from_this(), slot);
    slots_.push_back(std::move(slot));
  } catch (...) {
    // Out of threads (or memory): run with the runspaces there are, say so once per failure
    // rather than per job, and try again only after a pause.
    release_index_locked(index);
    spawn_retry_at_ = deadline_after(Clock::now(), kSpawnRetryPause);
    open_errors_.keep_current("runspace " + std::to_string(index) + " could not start: ");
    return false;
  }
  ++starting_;
  return true;
}

JobPtr PoolCore::next_job(const std::shared_ptr<RunspaceSlot>& slot, bool first,
                          const JobRecord* ended, Released& released) {
  lock_briefly(mutex_);
  Lock lock(mutex_, std::adopt_lock);
  if (ended != nullptr) after_run_locked(*ended, released);
  if (first) --starting_;
  ++idle_;
  std::optional<Clock::time_point> idle_deadline;  // read the clock only when about to idle
  while (!closing_.load()) {
    if (JobPtr job = queue_.pop(released.jobs)) {
      --idle_;
      // pop() may have made jobs of other batches ready again: another runspace takes them.
      if (!queue_.empty() && idle_ != 0) work_cv_.notify_one();
      return job;
    }
    if (!released.empty()) {
      // Let go of skipped jobs before sleeping, unlocked: one may hold the last handle on this
      // pool, whose destruction closes it (and then this loop ends).
      lock.unlock();
      released.clear();
      lock.lock();
      continue;
    }
    if (slots_.size() <= options_.min_runspaces) {
      lock.wait(work_cv_);
    } else if (!idle_deadline) {
      idle_deadline = deadline_after(Clock::now(), options_.idle_timeout);
    } else if (lock.wait_until(work_cv_, *idle_deadline) == std::cv_status::timeout) {
      if (slots_.size() > options_.min_runspaces && queue_.empty() && !closing_.load()) {
        std::erase(slots_, slot);
        release_index_locked(slot->runspace.index());
        retired_.push_back(slot);
        --idle_;
        return nullptr;
      }
      idle_deadline = deadline_after(Clock::now(), options_.idle_timeout);
    }
  }
  --idle_;
  return nullptr;
}

void PoolCore::job_ran(const JobRecord& job) {
  Released released;
  Lock lock(mutex_);
  after_run_locked(job, released);
}

void PoolCore::between_jobs() {
  // Feeding here, between jobs, saves a hop to the factory's executor per job; waiting until a
  // few places are free lets one feed round create several jobs.
  if (factory_.wants_feed()) factory_.feed(*this);
}

void PoolCore::after_run_locked(const JobRecord& job, Released& released) {
  std::size_t promoted = queue_.ran(job, released.jobs);
  for (std::size_t i = 0; i < promoted; ++i) work_cv_.notify_one();
}

// ---- feeding -------------------------------------------------------------------------------

bool PoolCore::add_batch(const std::shared_ptr<BatchCore>& batch) {
  return !closing_.load() && factory_.add_batch(batch, weak_from_this());
}

void PoolCore::schedule_feed() { factory_.schedule_feed(weak_from_this()); }

void PoolCore::enqueue(std::vector<JobPtr>& jobs) {
  if (jobs.empty()) return;
  registry_->add_jobs(jobs);
  std::vector<JobPtr> refused;
  std::vector<JobPtr> failed;
  std::size_t to_wake = 0;
  Released released;
  {
    lock_briefly(mutex_);
    Lock lock(mutex_, std::adopt_lock);
    for (JobPtr& job : jobs) {
      if (!job->work) {
        failed.push_back(std::move(job));
      } else if (closing_.load() || job->batch->stop_requested.load()) {
        refused.push_back(std::move(job));
      } else {
        queue_.push(std::move(job));
      }
    }
    std::size_t ready_now = queue_.size();
    to_wake = std::min(ready_now, idle_);
    std::size_t waiting = idle_ + starting_;
    if (waiting < ready_now && slots_.size() < options_.max_runspaces) {
      Clock::time_point now = Clock::now();
      while (waiting < ready_now && slots_.size() < options_.max_runspaces &&
             may_spawn_locked(now) && spawn_locked(released)) {
        ++waiting;
      }
    }
  }
  // Only idle runspaces need waking; a busy one looks at the queue before it sleeps.
  for (std::size_t i = 0; i < to_wake; ++i) work_cv_.notify_one();
  for (const JobPtr& job : failed) {
    finish(job, JobState::Failed);
  }
  for (const JobPtr& job : refused) {
    finish(job, JobState::Stopped);
  }
  jobs.clear();
}

// ---- finishing and stopping ----------------------------------------------------------------

std::optional<JobState> PoolCore::finish(const JobPtr& job, JobState state, ErrorRecord* error,
                                         bool feed_now) {
  std::optional<JobState> previous = registry_->finish(job, state, error);
  if (previous) count_finished(job, *previous, feed_now);
  return previous;
}

void PoolCore::count_finished(const JobPtr& job, JobState previous, bool feed_now) {
  factory_.place_freed();  // before the batch may report done: its waiters see a free place
  job->batch->on_job_finished(job->state.load(), previous);
  if (feed_now && factory_.hungry()) schedule_feed();
}

void PoolCore::request_stop_locked(RunspaceSlot& slot, Clock::time_point now) {
  slot.stopping = true;
  slot.deadline = deadline_after(now, options_.stop_grace);
  slot.stop.request_stop();
  if (!slot.joining) slot.driver->interrupt();
}

void PoolCore::stop_job(const JobPtr& job) {
  std::optional<JobState> previous = finish(job, JobState::Stopped);
  if (!previous) return;  // it ended on its own (or was stopped) first: nothing to interrupt
  if (*previous != JobState::Running) return;
  std::shared_ptr<RunspaceSlot> slot = job->runspace();
  if (!slot) return;
  Clock::time_point deadline;
  {
    Lock lock(slot->mutex);
    if (slot->current != job || slot->stopping || slot->abandoned) return;
    request_stop_locked(*slot, Clock::now());
    deadline = slot->deadline;
  }
  arm(deadline);
}

// ---- deadlines -----------------------------------------------------------------------------

void PoolCore::on_deadline() {
  Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  std::vector<std::shared_ptr<RunspaceSlot>> slots;
  {
    Lock lock(mutex_);
    slots = slots_;
  }
  for (const auto& slot : slots) {
    JobPtr timed_out;
    JobPtr abandoned;
    std::optional<JobState> previous;
    {
      Lock lock(slot->mutex);
      if (!slot->current || slot->abandoned) continue;
      if (slot->deadline > now) {
        next = std::min(next, slot->deadline);
        continue;
      }
      if (!slot->stopping) {
        ErrorRecord error = timeout_error(slot->current->batch->options.timeout);
        previous = registry_->finish(slot->current, JobState::TimedOut, &error, true);
        if (previous) timed_out = slot->current;
        request_stop_locked(*slot, now);
        next = std::min(next, slot->deadline);
      } else if (!closing_.load()) {  // shutdown abandons on its own
        slot->abandoned = true;
        slot->driver->abandon();
        abandoned = slot->current;
      }
    }
    if (timed_out) count_finished(timed_out, *previous);
    if (abandoned) abandon(slot, abandoned);
  }
  if (next != Clock::time_point::max()) arm(next);
}

void PoolCore::abandon(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job) {
  ++abandoned_;
  finish(job, JobState::Stopped);
  Released released;
  {
    Lock lock(mutex_);
    std::erase(slots_, slot);
    after_run_locked(*job, released);
    // A fresh runspace takes its place, so the pool keeps its capacity.
    if (!closing_.load()) {
      spawn_locked(released, slot->runspace.index());
    }
  }
  if (factory_.hungry()) schedule_feed();
}

// ---- shutdown ------------------------------------------------------------------------------

void PoolCore::shutdown() {
  // A second caller waits for the first to finish, so it too may free what jobs use.
  std::call_once(shutdown_once_, [this] { shutdown_once(); });
}

void PoolCore::shutdown_once() {
  Clock::time_point now = Clock::now();
  Clock::time_point deadline = deadline_after(now, options_.stop_grace);
  std::vector<JobPtr> queued;
  std::vector<std::shared_ptr<RunspaceSlot>> slots;
  std::vector<std::shared_ptr<RunspaceSlot>> retired;
  {
    Lock lock(mutex_);
    closing_.store(true);
    queued = queue_.take_all();
    slots = slots_;
    retired = std::move(retired_);
    retired_.clear();
  }
  work_cv_.notify_all();
  factory_.close();  // before queued jobs end: the places they free must not be filled again
  for (const JobPtr& job : queued) {
    finish(job, JobState::Stopped);
  }
  // Running jobs end Stopped at once, as with JobBatch::stop(); stop_grace is how long their
  // threads get to return before they are abandoned.
  now = Clock::now();
  for (const auto& slot : slots) {
    JobPtr stopped;
    std::optional<JobState> previous;
    {
      Lock lock(slot->mutex);
      if (!slot->current || slot->stopping) continue;
      previous = registry_->finish(slot->current, JobState::Stopped);
      if (previous) stopped = slot->current;
      request_stop_locked(*slot, now);
    }
    if (stopped) count_finished(stopped, *previous);
  }
  // Batches still feeding stop, and end once no read of theirs is under way.
  factory_.wait_closed(deadline);
  for (const auto& slot : slots) join_or_abandon(*slot, deadline);
  for (const auto& slot : retired) join_or_abandon(*slot, deadline);
  {
    Lock lock(mutex_);
    slots_.clear();
  }
  watch_.cancel();
}

void PoolCore::join_or_abandon(RunspaceSlot& slot, Clock::time_point deadline) {
  {
    // From here no stop reaches the driver while it is joined (shutdown already stopped every
    // job that ran, and later ones end Stopped before they start).
    Lock lock(slot.mutex);
    slot.joining = true;
  }
  if (slot.driver->join_until(deadline)) return;
  JobPtr job;
  {
    Lock lock(slot.mutex);
    slot.abandoned = true;
    job = slot.current;
    slot.driver->abandon();
  }
  if (job) {
    ++abandoned_;
    finish(job, JobState::Stopped);
  }
}

// ---- counters ------------------------------------------------------------------------------

std::size_t PoolCore::open_runspaces() const {
  Lock lock(mutex_);
  return slots_.size();
}

std::size_t PoolCore::busy_runspaces() const {
  Lock lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      slots_.begin(), slots_.end(), [](const auto& slot) { return slot->executing.load(); }));
}

}  // namespace rsp::detail
