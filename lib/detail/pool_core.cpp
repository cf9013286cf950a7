#include "detail/pool_core.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/thread/exceptions.hpp>

#include "detail/any_text.hpp"
#include "detail/brief_lock.hpp"
#include "detail/clock.hpp"
#include "detail/errors.hpp"
#include "detail/record_pool.hpp"
#include "detail/registry_core.hpp"
#include "detail/thread_start.hpp"

namespace rsp::detail {
namespace {

constexpr std::int64_t kNotArmed = std::numeric_limits<std::int64_t>::max();
// After a runspace thread could not start, none is tried for this long: a system out of
// threads would otherwise be asked again by every feed round.
constexpr std::chrono::milliseconds kSpawnRetryPause{100};
// open_errors() keeps this many messages and counts the rest.
constexpr std::size_t kMaxOpenErrors = 8;

std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_ns(std::int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

ErrorRecord timeout_error(std::chrono::milliseconds timeout) {
  std::string message = "timed out after " + std::to_string(timeout.count()) + " ms";
  return ErrorRecord{message, "rsp::JobTimedOut", std::make_exception_ptr(JobTimedOut(message))};
}

// Drops an interrupt that was meant for the job that just ended, so the next job never sees it.
void consume_interrupt() {
  if (!boost::this_thread::interruption_requested()) return;
  try {
    boost::this_thread::interruption_point();
  } catch (const boost::thread_interrupted&) {
  }
}

void run_hook(const std::function<void(Runspace&)>& hook, Runspace& runspace) {
  if (!hook) return;
  try {
    hook(runspace);
  } catch (...) {
    // A close hook has nobody left to report to; the runspace closes regardless.
  }
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

PoolCore::PoolCore(PoolOptions options, std::shared_ptr<RegistryCore> registry)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      session_(owned_session(options_.session)),
      factory_(options_.max_queue),
      armed_at_(kNotArmed),
      watch_timer_(registry_->watch_io()) {}

PoolCore::~PoolCore() = default;

void PoolCore::start() {
  Released released;
  std::lock_guard lock(mutex_);
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
    return !slot->thread.try_join_for(boost::chrono::milliseconds(0));
  });
  released.slots.insert(released.slots.end(), std::make_move_iterator(reaped),
                        std::make_move_iterator(retired_.end()));
  retired_.erase(reaped, retired_.end());
  std::size_t index = reuse ? *reuse : take_index_locked();
  try {
    auto slot = std::make_shared<RunspaceSlot>(index, session_);
    std::lock_guard slot_lock(slot->mutex);
    slot->thread = start_thread([self = shared_from_this(), slot] { self->runspace_main(slot); });
    slots_.push_back(std::move(slot));
  } catch (...) {
    // Out of threads (or memory): run with the runspaces there are, say so once per failure
    // rather than per job, and try again only after a pause.
    release_index_locked(index);
    spawn_retry_at_ = deadline_after(Clock::now(), kSpawnRetryPause);
    note_open_error_locked("runspace " + std::to_string(index) + " could not start: ");
    return false;
  }
  ++starting_;
  return true;
}

void PoolCore::note_open_error_locked(const std::string& what) noexcept {
  try {
    std::string message = what;
    try {
      throw;
    } catch (const std::exception& e) {
      message += e.what();
    } catch (...) {
      message += "unknown error";
    }
    keep_open_error_locked(std::move(message));
  } catch (...) {
    ++open_errors_dropped_;  // no memory for the message: the count still tells
  }
}

void PoolCore::keep_open_error_locked(std::string message) {
  if (open_errors_.size() < kMaxOpenErrors) {
    open_errors_.push_back(std::move(message));
  } else {
    ++open_errors_dropped_;
  }
}

void PoolCore::runspace_main(const std::shared_ptr<RunspaceSlot>& slot) {
  std::optional<ErrorRecord> open_error;
  if (session_->open) {
    try {
      session_->open(slot->runspace);
    } catch (...) {
      open_error = describe_current_exception();
      open_error->message = "runspace " + std::to_string(slot->runspace.index()) +
                            " failed to open: " + open_error->message;
      std::lock_guard lock(mutex_);
      keep_open_error_locked(open_error->message);
    }
  }
  bool first = true;
  JobPtr ended;  // the job this runspace ran last, for next_job to account for
  for (;;) {
    Released released;  // what next_job let go of, destroyed outside the pool's lock
    JobPtr job = next_job(slot, first, ended.get(), released);
    ended.reset();  // outside the pool's lock: this may be the last reference to the record
    released.clear();
    if (!job) break;
    first = false;
    if (open_error) {
      // A runspace whose session did not open fails its jobs clearly rather than run them
      // without the state they expect.
      ErrorRecord error = *open_error;
      if (auto previous = job->try_finish(JobState::Failed, &error))
        publish_finished(job, *previous);
    } else if (!run_job(slot, job)) {
      consume_interrupt();  // the stop was for the job, not for the close hook
      run_hook(slot->session->close, slot->runspace);  // abandoned: the pool is not ours now
      return;
    }
    if (job->batch->options.max_running != 0) {
      // Its batch's next job may be held back for it: free that place before a feed that may
      // block on a read.
      Released released;
      std::lock_guard lock(mutex_);
      after_run_locked(*job, released);
    } else {
      ended = std::move(job);  // accounted for under next_job's lock, saving a lock round
    }
    // Feeding here, between jobs, saves a hop to the factory's executor per job; waiting until a
    // few places are free lets one feed round create several jobs.
    if (factory_.wants_feed()) factory_.feed(*this);
  }
  run_hook(slot->session->close, slot->runspace);
}

JobPtr PoolCore::next_job(const std::shared_ptr<RunspaceSlot>& slot, bool first,
                          const JobRecord* ended, Released& released) {
  std::unique_lock lock = lock_briefly(mutex_);
  if (ended != nullptr) after_run_locked(*ended, released);
  if (first) --starting_;
  ++idle_;
  std::optional<Clock::time_point> idle_deadline;  // read the clock only when about to idle
  while (!closing_.load()) {
    if (ready_.empty()) promote_deferred_locked(released);
    while (!ready_.empty()) {
      JobPtr job = std::move(ready_.front());
      ready_.pop_front();
      // Stopped while queued, or its stopper ends it Stopped: skipped, and let go of only once
      // the lock is released (it may hold the last handle on this very pool).
      if (job->state.load() != JobState::NotStarted || job->batch->stop_requested.load()) {
        released.jobs.push_back(std::move(job));
        continue;
      }
      BatchCore& batch = *job->batch;
      if (batch.options.max_running != 0 && batch.running_now >= batch.options.max_running) {
        deferred_.push_back(std::move(job));
        continue;
      }
      ++batch.running_now;
      --idle_;
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
      work_cv_.wait(lock);
    } else if (!idle_deadline) {
      idle_deadline = deadline_after(Clock::now(), options_.idle_timeout);
    } else if (work_cv_.wait_until(lock, *idle_deadline) == std::cv_status::timeout) {
      if (slots_.size() > options_.min_runspaces && ready_.empty() && !closing_.load()) {
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

bool PoolCore::run_job(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job) {
  std::stop_token token;
  bool closing = false;
  {
    std::lock_guard lock(slot->mutex);
    slot->current = job;
    token = slot->stop.get_token();
    // Shutdown looks at `current` under this lock after setting closing_: it either saw this
    // job or we see closing_ here.
    closing = closing_.load();
  }
  if (closing) {
    if (auto previous = job->try_finish(JobState::Stopped)) publish_finished(job, *previous, false);
  } else if (job->try_start(slot)) {
    slot->executing.store(true);
    std::chrono::milliseconds timeout = job->batch->options.timeout;
    if (timeout.count() > 0) {
      Clock::time_point deadline = deadline_after(job->started_at, timeout);
      bool armed = false;
      {
        std::lock_guard lock(slot->mutex);
        if (!slot->stopping) {
          slot->deadline = deadline;
          armed = true;
        }
      }
      if (armed) arm(deadline);
    }
    JobContext& context = job->open_context(slot->runspace, token);
    JobState outcome = JobState::Completed;
    std::optional<ErrorRecord> error;
    try {
      job->work->run(context);
    } catch (const JobStopped&) {
      outcome = token.stop_requested() ? JobState::Stopped : JobState::Failed;
      if (outcome == JobState::Failed) error = describe_current_exception();
    } catch (const boost::thread_interrupted&) {
      outcome = token.stop_requested() ? JobState::Stopped : JobState::Failed;
      if (outcome == JobState::Failed) error = describe_current_exception();
    } catch (...) {
      outcome = JobState::Failed;
      error = describe_current_exception();
    }
    job->work.reset();
    slot->executing.store(false);
    if (auto previous = job->try_finish(outcome, error ? &*error : nullptr)) {
      publish_finished(job, *previous, false);
    }
  }
  bool interrupted = false;
  {
    std::lock_guard lock(slot->mutex);
    if (slot->abandoned) return false;
    slot->current = nullptr;
    slot->deadline = Clock::time_point::max();
    interrupted = std::exchange(slot->stopping, false);
    if (slot->stop.stop_requested()) slot->stop = std::stop_source();
  }
  // No stop can target this runspace now that `current` is clear; drop the interrupt sent with
  // a stop (request_stop_locked is the only sender, and it sets `stopping`).
  if (interrupted) consume_interrupt();
  return true;
}

void PoolCore::after_run_locked(const JobRecord& job, Released& released) {
  --job.batch->running_now;
  promote_deferred_locked(released);
}

void PoolCore::promote_deferred_locked(Released& released) {
  // Jobs held back by max_running whose batch has room again go back to the queue's front;
  // stopped ones are dropped on the way.
  std::vector<std::pair<const BatchCore*, std::size_t>> promoted;  // per batch, this call
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    const BatchCore& batch = *(*it)->batch;
    auto mine = std::find_if(promoted.begin(), promoted.end(),
                             [&](const auto& entry) { return entry.first == &batch; });
    std::size_t already = mine == promoted.end() ? 0 : mine->second;
    if ((*it)->state.load() != JobState::NotStarted) {
      released.jobs.push_back(std::move(*it));
      it = deferred_.erase(it);
    } else if (batch.running_now + already < batch.options.max_running) {
      ready_.push_back(std::move(*it));
      it = deferred_.erase(it);
      if (mine == promoted.end()) {
        promoted.emplace_back(&batch, 1);
      } else {
        ++mine->second;
      }
    } else {
      ++it;
    }
  }
  for (std::size_t i = 0; i < promoted.size(); ++i) work_cv_.notify_one();
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
    auto lock = lock_briefly(mutex_);
    for (JobPtr& job : jobs) {
      if (!job->work) {
        failed.push_back(std::move(job));
      } else if (closing_.load() || job->batch->stop_requested.load()) {
        refused.push_back(std::move(job));
      } else {
        ready_.push_back(std::move(job));
      }
    }
    std::size_t ready_now = ready_.size();
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
    if (auto previous = job->try_finish(JobState::Failed)) publish_finished(job, *previous);
  }
  for (const JobPtr& job : refused) {
    if (auto previous = job->try_finish(JobState::Stopped)) publish_finished(job, *previous);
  }
  jobs.clear();
}

// ---- finishing and stopping ----------------------------------------------------------------

void PoolCore::publish_finished(const JobPtr& job, JobState previous, bool feed_now) {
  registry_->publish(job);
  factory_.place_freed();  // before the batch may report done: its waiters see a free place
  job->batch->on_job_finished(job->state.load(), previous);
  if (feed_now && factory_.hungry()) schedule_feed();
}

void PoolCore::request_stop_locked(RunspaceSlot& slot, Clock::time_point now) {
  slot.stopping = true;
  slot.deadline = deadline_after(now, options_.stop_grace);
  slot.stop.request_stop();
  slot.thread.interrupt();
}

void PoolCore::stop_job(const JobPtr& job) {
  std::optional<JobState> previous = job->try_finish(JobState::Stopped);
  if (!previous) return;  // it ended on its own (or was stopped) first: nothing to interrupt
  publish_finished(job, *previous);
  if (*previous != JobState::Running) return;
  std::shared_ptr<RunspaceSlot> slot = job->runspace();
  if (!slot) return;
  Clock::time_point deadline;
  {
    std::lock_guard lock(slot->mutex);
    if (slot->current != job || slot->stopping || slot->abandoned) return;
    request_stop_locked(*slot, Clock::now());
    deadline = slot->deadline;
  }
  arm(deadline);
}

// ---- the deadline watcher ------------------------------------------------------------------

void PoolCore::arm(Clock::time_point deadline) {
  std::int64_t wanted = to_ns(deadline);
  std::int64_t current = armed_at_.load();
  while (wanted < current) {
    if (armed_at_.compare_exchange_weak(current, wanted)) {
      boost::asio::post(registry_->watch_io(), [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->rearm();
      });
      return;
    }
  }
}

void PoolCore::rearm() {
  std::int64_t at = armed_at_.load();
  if (at == kNotArmed || closing_.load()) return;
  watch_timer_.expires_at(from_ns(at));
  watch_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
    if (error) return;  // re-armed earlier, or cancelled
    if (auto self = weak.lock()) self->on_watch();
  });
}

void PoolCore::on_watch() {
  armed_at_.store(kNotArmed);
  Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  std::vector<std::shared_ptr<RunspaceSlot>> slots;
  {
    std::lock_guard lock(mutex_);
    slots = slots_;
  }
  for (const auto& slot : slots) {
    JobPtr timed_out;
    JobPtr abandoned;
    std::optional<JobState> previous;
    {
      std::lock_guard lock(slot->mutex);
      if (!slot->current || slot->abandoned) continue;
      if (slot->deadline > now) {
        next = std::min(next, slot->deadline);
        continue;
      }
      if (!slot->stopping) {
        ErrorRecord error = timeout_error(slot->current->batch->options.timeout);
        previous = slot->current->try_finish(JobState::TimedOut, &error, true);
        if (previous) timed_out = slot->current;
        request_stop_locked(*slot, now);
        next = std::min(next, slot->deadline);
      } else if (!closing_.load()) {  // shutdown abandons on its own
        slot->abandoned = true;
        slot->thread.detach();
        abandoned = slot->current;
      }
    }
    if (timed_out) publish_finished(timed_out, *previous);
    if (abandoned) abandon(slot, abandoned);
  }
  if (next != Clock::time_point::max()) arm(next);
}

void PoolCore::abandon(const std::shared_ptr<RunspaceSlot>& slot, const JobPtr& job) {
  ++abandoned_;
  if (auto previous = job->try_finish(JobState::Stopped)) publish_finished(job, *previous);
  Released released;
  {
    std::lock_guard lock(mutex_);
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
    std::lock_guard lock(mutex_);
    closing_.store(true);
    queued.assign(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.end()));
    queued.insert(queued.end(), std::make_move_iterator(deferred_.begin()),
                  std::make_move_iterator(deferred_.end()));
    ready_.clear();
    deferred_.clear();
    slots = slots_;
    retired = std::move(retired_);
    retired_.clear();
  }
  work_cv_.notify_all();
  factory_.close();  // before queued jobs end: the places they free must not be filled again
  for (const JobPtr& job : queued) {
    if (auto previous = job->try_finish(JobState::Stopped)) publish_finished(job, *previous);
  }
  // Running jobs end Stopped at once, as with JobBatch::stop(); stop_grace is how long their
  // threads get to return before they are abandoned.
  now = Clock::now();
  for (const auto& slot : slots) {
    JobPtr stopped;
    std::optional<JobState> previous;
    {
      std::lock_guard lock(slot->mutex);
      if (!slot->current || slot->stopping) continue;
      previous = slot->current->try_finish(JobState::Stopped);
      if (previous) stopped = slot->current;
      request_stop_locked(*slot, now);
    }
    if (stopped) publish_finished(stopped, *previous);
  }
  // Batches still feeding stop, and end once no read of theirs is under way.
  factory_.wait_closed(deadline);
  // The same deadline on Boost's clock, for try_join_until; saturating like deadline_after.
  auto boost_deadline = boost::chrono::steady_clock::time_point::max();
  if (deadline != Clock::time_point::max()) {
    std::int64_t left_ms = std::max<std::int64_t>(
        0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
    auto boost_now = boost::chrono::steady_clock::now();
    auto room = boost::chrono::duration_cast<boost::chrono::milliseconds>(
        boost::chrono::steady_clock::time_point::max() - boost_now);
    if (left_ms < room.count()) boost_deadline = boost_now + boost::chrono::milliseconds(left_ms);
  }
  // A job may close its own pool: its thread has just been interrupted, and a Boost join is an
  // interruption point, so interruption is held off while joining.
  boost::this_thread::disable_interruption no_interrupts;
  auto join_or_abandon = [&](const std::shared_ptr<RunspaceSlot>& slot) {
    boost::thread thread;
    {
      std::lock_guard lock(slot->mutex);
      thread = std::move(slot->thread);
    }
    if (!thread.joinable()) return;
    if (thread.get_id() != boost::this_thread::get_id() && thread.try_join_until(boost_deadline)) {
      return;
    }
    JobPtr job;
    {
      std::lock_guard lock(slot->mutex);
      slot->abandoned = true;
      job = slot->current;
    }
    thread.detach();
    if (job) {
      ++abandoned_;
      if (auto previous = job->try_finish(JobState::Stopped)) publish_finished(job, *previous);
    }
  };
  for (const auto& slot : slots) join_or_abandon(slot);
  for (const auto& slot : retired) join_or_abandon(slot);
  {
    std::lock_guard lock(mutex_);
    slots_.clear();
  }
  boost::asio::post(registry_->watch_io(),
                    [self = shared_from_this()] { self->watch_timer_.cancel(); });
}

// ---- counters ------------------------------------------------------------------------------

std::size_t PoolCore::open_runspaces() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::size_t PoolCore::busy_runspaces() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      slots_.begin(), slots_.end(), [](const auto& slot) { return slot->executing.load(); }));
}

std::vector<std::string> PoolCore::open_errors() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> errors = open_errors_;
  if (open_errors_dropped_ != 0) {
    errors.push_back("and " + std::to_string(open_errors_dropped_) + " more");
  }
  return errors;
}

}  // namespace rsp::detail
