#include "detail/registry_core.hpp"

#include <algorithm>
#include <iterator>

#include "detail/brief_lock.hpp"
#include "detail/clock.hpp"

namespace rsp::detail {
namespace {
// A streaming receiver that finds a few finished jobs holds on for more, up to this many or for
// this long, so a fast stream of small jobs wakes it once per group rather than once per job.
constexpr std::size_t kWakeGroup = 128;
constexpr std::chrono::microseconds kHoldFor{500};

// Jobs and batches leave the registry through this: their destructors (user outputs, scripts,
// ranges, perhaps the last handle on a pool) run after the registry's mutex is released, and
// batches paused for a receiver's backlog feed again.
struct Released {
  std::vector<JobPtr> jobs;
  std::vector<std::shared_ptr<BatchCore>> batches;
  std::vector<std::shared_ptr<BatchCore>> resume;  // their receiver's backlog just fell below
  ~Released() {
    for (const auto& batch : resume) batch->resume_feeding();
  }
};

// Calls fn(batch, run) for each run of consecutive jobs of one batch. A batch's counters change
// once per run rather than once per job: the runspaces share them, so every change moves a
// cache line. Not analysed: it holds no lock itself, and `fn` is checked where it is written
// (with the locks its caller holds).
template <class Fn>
void for_each_batch_run(std::span<const JobPtr> jobs, Fn fn) RSP_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t first = 0; first < jobs.size();) {
    const std::shared_ptr<BatchCore>& batch = jobs[first]->batch;
    std::size_t end = first + 1;
    while (end < jobs.size() && jobs[end]->batch == batch) ++end;
    fn(batch, jobs.subspan(first, end - first));
    first = end;
  }
}

// Marks the run's jobs received (under the registry's mutex) and counts those that were not.
void mark_received(BatchCore& batch, std::span<const JobPtr> run) {
  std::size_t newly_received = 0;
  for (const JobPtr& job : run) {
    if (!job->received) {
      job->received = true;
      ++newly_received;
    }
  }
  if (newly_received != 0) batch.received += newly_received;
}

// Calls fn(tracked) for each tracked batch the filter covers; a filter naming its batch finds
// it directly.
template <class Map, class Fn>
void for_each_match(Map& tracked, const JobFilter& filter, Fn fn) {
  if (filter.batch != nullptr) {
    auto found = tracked.find(filter.batch);
    if (found != tracked.end() && filter.matches(*found->second.batch)) fn(found->second);
    return;
  }
  for (auto& [key, entry] : tracked) {
    if (filter.matches(*entry.batch)) fn(entry);
  }
}

bool unseen(const JobRecord& job, const KeepCursor* cursor) {
  return cursor == nullptr ||
         (job.publish_seq > cursor->seen_through && !cursor->delivered.contains(job.id));
}

// The first job of a batch's finished list (kept in publish order) the cursor has not seen.
std::vector<JobPtr>::const_iterator first_unseen(const std::vector<JobPtr>& finished,
                                                 const KeepCursor* cursor) {
  if (cursor == nullptr) return finished.begin();
  return std::upper_bound(
      finished.begin(), finished.end(), cursor->seen_through,
      [](std::uint64_t seq, const JobPtr& job) { return seq < job->publish_seq; });
}
}  // namespace

RegistryCore::RegistryCore() = default;

template <class Fn>
void RegistryCore::for_each_match_locked(const JobFilter& filter, Fn fn) const {
  for_each_match(tracked_, filter, fn);
}

void RegistryCore::add_batch(std::shared_ptr<BatchCore> batch) {
  Released released;
  Lock lock(mutex_);
  prune_batches_locked(released.batches);
  const BatchCore* key = batch.get();
  tracked_.emplace(key, Tracked{std::move(batch), {}});
}

void RegistryCore::add_jobs(std::span<const JobPtr> jobs) {
  auto now = WallClock::resync();
  lock_briefly(mutex_);
  Lock lock(mutex_, std::adopt_lock);
  for_each_batch_run(jobs,
                     [&](const std::shared_ptr<BatchCore>& batch, auto run) RSP_REQUIRES(mutex_) {
                       for (const JobPtr& job : run) {
                         job->id = next_id_++;
                         job->data.id = job->id;
                         job->data.queued = now;
                         index_.append(job);
                       }
                       batch->held += run.size();
                     });
  held_ += jobs.size();
}

bool RegistryCore::wakes_locked(const Waiter& waiter, const JobRecord& job,
                                const Tracked& tracked) const {
  if (!waiter.filter->matches(job)) return false;
  return waiter.idle || tracked.finished.size() >= kWakeGroup || job.batch->backlog_half_full();
}

std::optional<JobState> RegistryCore::finish(const JobPtr& job, JobState state, ErrorRecord* error,
                                             bool only_running) {
  const auto now = std::chrono::steady_clock::now();  // read before the lock, not under it
  std::optional<JobState> previous;
  bool wake = false;
  {
    lock_briefly(mutex_);
    Lock lock(mutex_, std::adopt_lock);
    previous = job->try_finish(state, now, error, only_running);
    if (!previous) return std::nullopt;
    wake = publish_locked(job);
  }
  if (wake) changed_.notify_all();
  return previous;
}

bool RegistryCore::publish_locked(const JobPtr& job) {
  bool wake = false;
  {
    if (!index_.holds(*job)) return false;  // never queued (the pool was gone)
    // A held job's batch is tracked: batches are pruned only once they hold no job.
    Tracked& tracked = tracked_.at(job->batch.get());
    job->publish_seq = ++publish_seq_;
    job->published = true;
    tracked.finished.push_back(job);
    ++job->batch->awaiting_receipt;
    // One wake-up per group of finished jobs, and only for waiters covering this job: a
    // receiver already woken takes them all, one holding for a group wakes when the group is
    // full or its batch nears the backlog limit.
    if (!signalled_) {
      wake = std::any_of(waiters_.begin(), waiters_.end(),
                         [&](const Waiter* waiter)
                             RSP_REQUIRES(mutex_) { return wakes_locked(*waiter, *job, tracked); });
    }
    if (wake) signalled_ = true;
  }
  return wake;
}

void RegistryCore::notify_changed() {
  { Lock lock(mutex_); }  // orders the change before a waiter's predicate check
  changed_.notify_all();
}

std::vector<JobPtr> RegistryCore::unfinished(const JobFilter& filter) const {
  std::vector<JobPtr> found;
  Lock lock(mutex_);
  if (filter.id) {
    JobPtr job = find_locked(*filter.id);
    if (job && !is_finished(job->state.load()) && filter.matches(*job)) found.push_back(job);
    return found;
  }
  index_.for_each([&](const JobPtr& job) {
    if (!is_finished(job->state.load()) && filter.matches(*job)) found.push_back(job);
  });
  return found;
}

std::vector<std::shared_ptr<BatchCore>> RegistryCore::batches(const JobFilter& filter) const {
  std::vector<std::shared_ptr<BatchCore>> found;
  Lock lock(mutex_);
  for_each_match_locked(filter, [&](const Tracked& tracked) { found.push_back(tracked.batch); });
  return found;
}

bool RegistryCore::scope_done_locked(const JobFilter& filter) const {
  if (filter.id) {
    // Published, not merely finished: a waiter must find the job when it looks.
    JobPtr job = find_locked(*filter.id);
    if (job) return !filter.matches(*job) || job->published;
    if (*filter.id < next_id_) return true;  // received or cleared already
    // Not created yet: it may still come from a matching batch that is reading its inputs.
    bool feeding = false;
    for_each_match_locked(filter, [&](const Tracked& tracked) {
      feeding = feeding || !tracked.batch->feeding_done();
    });
    return !feeding;
  }
  bool done = true;
  for_each_match_locked(filter,
                        [&](const Tracked& tracked) { done = done && tracked.batch->done(); });
  return done;
}

bool RegistryCore::has_match_locked(const JobFilter& filter, const KeepCursor* cursor) const {
  if (filter.id) {
    JobPtr job = find_locked(*filter.id);
    return job && job->published && filter.matches(*job) && unseen(*job, cursor);
  }
  bool found = false;
  for_each_match_locked(filter, [&](const Tracked& tracked) {
    if (found || tracked.finished.empty()) return;
    auto first = first_unseen(tracked.finished, cursor);
    found = std::any_of(first, tracked.finished.end(),
                        [&](const JobPtr& job) { return unseen(*job, cursor); });
  });
  return found;
}

bool RegistryCore::group_ready_locked(const JobFilter& filter) const {
  bool ready = false;
  for_each_match_locked(filter, [&](const Tracked& tracked) {
    ready = ready || tracked.finished.size() >= kWakeGroup || tracked.batch->backlog_half_full();
  });
  return ready;
}

bool RegistryCore::wait(const JobFilter& filter, bool any,
                        std::chrono::steady_clock::time_point until, const KeepCursor* cursor) {
  Lock lock(mutex_);
  Waiter self{&filter, true};
  waiters_.push_back(&self);
  std::optional<std::chrono::steady_clock::time_point> hold_until;
  while (!scope_done_locked(filter)) {
    self.idle = true;
    auto wake_at = until;
    if (any && has_match_locked(filter, cursor)) {
      if (group_ready_locked(filter)) break;
      auto now = std::chrono::steady_clock::now();
      if (!hold_until) hold_until = now + kHoldFor;
      if (now >= *hold_until) break;
      self.idle = false;
      wake_at = std::min(until, *hold_until);
    }
    signalled_ = false;  // about to sleep: the next publish may wake us
    std::cv_status status = lock.wait_until(changed_, wake_at);
    if (status == std::cv_status::timeout && wake_at == until) break;
  }
  std::erase(waiters_, &self);
  return scope_done_locked(filter);
}

std::vector<JobPtr> RegistryCore::take(const JobFilter& filter, bool keep, KeepCursor* cursor,
                                       std::vector<ReceivedJob>* out) {
  Released released;
  std::vector<JobPtr> jobs;
  Lock lock(mutex_);
  const KeepCursor* looked = keep ? cursor : nullptr;
  if (filter.id) {
    JobPtr job = find_locked(*filter.id);
    if (job && job->published && filter.matches(*job) && unseen(*job, looked)) {
      if (!keep) std::erase(tracked_.at(job->batch.get()).finished, job);
      jobs.push_back(std::move(job));
    }
  } else {
    for_each_match(tracked_, filter, [&](Tracked& tracked) {
      if (keep) {
        for (auto it = first_unseen(tracked.finished, looked); it != tracked.finished.end(); ++it) {
          if (unseen(**it, looked)) jobs.push_back(*it);
        }
      } else {
        jobs.insert(jobs.end(), std::make_move_iterator(tracked.finished.begin()),
                    std::make_move_iterator(tracked.finished.end()));
        tracked.finished.clear();
      }
    });
  }
  if (keep) {
    for_each_batch_run(jobs, [](const auto& batch, auto run) { mark_received(*batch, run); });
    if (cursor != nullptr) {
      // Every matching job published so far has now been looked at.
      cursor->seen_through = publish_seq_;
      for (const JobPtr& job : jobs) cursor->delivered.insert(job->id);
    }
  } else {
    drop_locked(jobs, true, released.resume);
    prune_batches_locked(released.batches);
  }
  auto by_id = [](const JobPtr& a, const JobPtr& b) { return a->id < b->id; };
  if (!std::is_sorted(jobs.begin(), jobs.end(), by_id)) std::sort(jobs.begin(), jobs.end(), by_id);
  // Under the lock: a kept job's data may be taken by another receiver right after.
  if (out != nullptr) {
    out->reserve(out->size() + jobs.size());
    for (const JobPtr& job : jobs) out->push_back(keep ? job->data : std::move(job->data));
  }
  return jobs;
}

void RegistryCore::put_back(std::vector<JobPtr> jobs, std::vector<ReceivedJob>* data) {
  {
    Lock lock(mutex_);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      JobPtr& job = jobs[i];
      if (data != nullptr) job->data = std::move((*data)[i]);
      index_.restore(job);
      job->received = false;
      --job->batch->received;
      ++job->batch->held;
      ++job->batch->awaiting_receipt;
      ++held_;
      // Its batch may have been pruned when the job was taken; track it again.
      Tracked& tracked = tracked_[job->batch.get()];
      if (!tracked.batch) tracked.batch = job->batch;
      job->publish_seq = ++publish_seq_;
      tracked.finished.push_back(std::move(job));
    }
  }
  changed_.notify_all();
}

std::size_t RegistryCore::remove_finished(const JobFilter& filter) {
  Released released;
  Lock lock(mutex_);
  if (filter.id) {
    JobPtr job = find_locked(*filter.id);
    if (job && job->published && filter.matches(*job)) {
      std::erase(tracked_.at(job->batch.get()).finished, job);
      released.jobs.push_back(std::move(job));
    }
  } else {
    for_each_match(tracked_, filter, [&](Tracked& tracked) {
      released.jobs.insert(released.jobs.end(), std::make_move_iterator(tracked.finished.begin()),
                           std::make_move_iterator(tracked.finished.end()));
      tracked.finished.clear();
    });
  }
  drop_locked(released.jobs, false, released.resume);
  prune_batches_locked(released.batches);
  return released.jobs.size();
}

JobPtr RegistryCore::find_locked(JobId id) const {
  const JobPtr* entry = index_.find(id);
  return entry != nullptr ? *entry : nullptr;
}

void RegistryCore::drop_locked(std::span<const JobPtr> jobs, bool receive, BatchList& resume) {
  for_each_batch_run(
      jobs, [&](const std::shared_ptr<BatchCore>& batch, auto run) RSP_REQUIRES(mutex_) {
        for (const JobPtr& job : run) index_.remove(job->id);
        if (receive) mark_received(*batch, run);
        // Only finished jobs are dropped. Crossing below max_unreceived may end a receiver's pause.
        std::size_t awaiting = batch->awaiting_receipt.fetch_sub(run.size());
        if (awaiting >= batch->max_unreceived && awaiting - run.size() < batch->max_unreceived) {
          resume.push_back(batch);
        }
        batch->held -= run.size();
        held_ -= run.size();
      });
  index_.compact_if_sparse();
}

void RegistryCore::prune_batches_locked(BatchList& released) {
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const std::shared_ptr<BatchCore>& batch = it->second.batch;
    if (batch->done() && batch->held.load() == 0) {
      released.push_back(std::move(it->second.batch));
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t RegistryCore::size() const {
  Lock lock(mutex_);
  return held_;
}

std::optional<JobState> RegistryCore::state(JobId id) const {
  Lock lock(mutex_);
  JobPtr job = find_locked(id);
  if (!job) return std::nullopt;
  return job->state.load();
}

JobId RegistryCore::next_id() const {
  Lock lock(mutex_);
  return next_id_;
}

std::size_t RegistryCore::index_slots() const {
  Lock lock(mutex_);
  return index_.slots();
}

}  // namespace rsp::detail
