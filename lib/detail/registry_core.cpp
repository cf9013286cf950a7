#include "detail/registry_core.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "detail/brief_lock.hpp"
#include "detail/clock.hpp"

namespace rsp::detail {
namespace {
// A streaming receiver that finds a few finished jobs holds on for more, up to this many or for
// this long, so a fast stream of small jobs wakes it once per group rather than once per job.
constexpr std::size_t kWakeGroup = 128;
constexpr std::chrono::microseconds kHoldFor{500};
// The by-id index drops its gaps only past this many, so a small registry never compacts.
constexpr std::size_t kMinGapsToCompact = 1024;
}  // namespace

bool JobFilter::matches(const JobRecord& job) const {
  if (id && job.id != *id) return false;
  const BatchCore& owner = *job.batch;
  return matches(owner);
}

bool JobFilter::matches(const BatchCore& owner) const {
  if (pool != nullptr && owner.pool_identity != pool) return false;
  if (batch != nullptr && &owner != batch) return false;
  return name.empty() || owner.name == name;
}

Executor::Executor(const char* role)
    : io_(std::make_shared<boost::asio::io_context>(1)),
      guard_(boost::asio::make_work_guard(*io_)),
      thread_([io = io_] {
        // A handler that throws (out of memory, say) must not end the process: Asio lets run()
        // be called again after an exception.
        for (;;) {
          try {
            io->run();
            return;
          } catch (...) {
          }
        }
      }) {
  (void)role;
}

Executor::~Executor() {
  guard_.reset();
  io_->stop();
  // The last owner may be one of this executor's own handlers; the thread keeps io_ alive.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

RegistryCore::RegistryCore() = default;

namespace {
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
// cache line.
template <class Fn>
void for_each_batch_run(std::span<const JobPtr> jobs, Fn fn) {
  for (std::size_t first = 0; first < jobs.size();) {
    const std::shared_ptr<BatchCore>& batch = jobs[first]->batch;
    std::size_t end = first + 1;
    while (end < jobs.size() && jobs[end]->batch == batch) ++end;
    fn(batch, jobs.subspan(first, end - first));
    first = end;
  }
}

// The by-id index is sorted by id: a binary search finds a job's entry.
constexpr auto entry_before = [](const auto& entry, JobId id) { return entry.id < id; };

template <class Index>
auto find_entry(Index& index, JobId id) {
  auto at = std::lower_bound(index.begin(), index.end(), id, entry_before);
  return at != index.end() && at->id == id ? at : index.end();
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
}  // namespace

void RegistryCore::add_batch(std::shared_ptr<BatchCore> batch) {
  Released released;
  std::lock_guard lock(mutex_);
  prune_batches_locked(released.batches);
  batches_.push_back(std::move(batch));
}

void RegistryCore::add_jobs(std::span<const JobPtr> jobs) {
  auto now = WallClock::resync();
  auto lock = lock_briefly(mutex_);
  for_each_batch_run(jobs, [&](const std::shared_ptr<BatchCore>& batch, auto run) {
    for (const JobPtr& job : run) {
      job->id = next_id_++;
      job->data.id = job->id;
      job->data.queued = now;
      index_.push_back(IndexEntry{job->id, job});
    }
    batch->held += run.size();
  });
  held_ += jobs.size();
}

void RegistryCore::publish(const JobPtr& job) {
  bool wake = false;
  {
    auto lock = lock_briefly(mutex_);
    if (!holds_locked(*job)) return;  // cleared by force before it was published
    finished_.push_back(job);
    job->published = true;
    ++job->batch->awaiting_receipt;
    // One wake-up per group of finished jobs: a receiver already woken takes them all, and one
    // holding for a group wakes when the group is full or its batch nears the backlog limit.
    wake =
        waiters_ != 0 && !signalled_ &&
        (idle_waiters_ != 0 || finished_.size() >= kWakeGroup || job->batch->backlog_half_full());
    if (wake) signalled_ = true;
  }
  if (wake) changed_.notify_all();
}

void RegistryCore::notify_changed() {
  { std::lock_guard lock(mutex_); }  // orders the change before a waiter's predicate check
  changed_.notify_all();
}

std::vector<JobPtr> RegistryCore::unfinished(const JobFilter& filter) const {
  std::vector<JobPtr> found;
  std::lock_guard lock(mutex_);
  if (filter.id) {
    JobPtr job = find_locked(*filter.id);
    if (job && !is_finished(job->state.load()) && filter.matches(*job)) found.push_back(job);
    return found;
  }
  for (const auto& [id, job] : index_) {
    if (job && !is_finished(job->state.load()) && filter.matches(*job)) found.push_back(job);
  }
  return found;
}

std::vector<std::shared_ptr<BatchCore>> RegistryCore::batches(const JobFilter& filter) const {
  std::vector<std::shared_ptr<BatchCore>> found;
  std::lock_guard lock(mutex_);
  for (const auto& batch : batches_) {
    if (filter.matches(*batch)) found.push_back(batch);
  }
  return found;
}

bool RegistryCore::scope_done_locked(const JobFilter& filter) const {
  if (filter.id) {
    // Published, not merely finished: a waiter must find the job when it looks.
    JobPtr job = find_locked(*filter.id);
    if (job) return !filter.matches(*job) || job->published;
    if (*filter.id < next_id_) return true;  // received or cleared already
    // Not created yet: it may still come from a matching batch that is reading its inputs.
    return std::none_of(batches_.begin(), batches_.end(), [&](const auto& batch) {
      return filter.matches(*batch) && !batch->feeding_done();
    });
  }
  return std::none_of(batches_.begin(), batches_.end(),
                      [&](const auto& batch) { return filter.matches(*batch) && !batch->done(); });
}

bool RegistryCore::has_match_locked(const JobFilter& filter,
                                    const std::unordered_set<JobId>* skip) const {
  return std::any_of(finished_.begin(), finished_.end(), [&](const JobPtr& job) {
    return filter.matches(*job) && (skip == nullptr || !skip->contains(job->id));
  });
}

bool RegistryCore::backlog_half_full_locked(const JobFilter& filter) const {
  return std::any_of(batches_.begin(), batches_.end(), [&](const auto& batch) {
    return filter.matches(*batch) && batch->backlog_half_full();
  });
}

bool RegistryCore::wait(const JobFilter& filter, bool any,
                        std::chrono::steady_clock::time_point until,
                        const std::unordered_set<JobId>* skip) {
  std::unique_lock lock(mutex_);
  ++waiters_;
  std::optional<std::chrono::steady_clock::time_point> hold_until;
  while (!scope_done_locked(filter)) {
    bool idle = true;
    auto wake_at = until;
    if (any && has_match_locked(filter, skip)) {
      if (finished_.size() >= kWakeGroup || backlog_half_full_locked(filter)) break;
      auto now = std::chrono::steady_clock::now();
      if (!hold_until) hold_until = now + kHoldFor;
      if (now >= *hold_until) break;
      idle = false;
      wake_at = std::min(until, *hold_until);
    }
    signalled_ = false;  // about to sleep: the next publish may wake us
    if (idle) ++idle_waiters_;
    std::cv_status status = changed_.wait_until(lock, wake_at);
    if (idle) --idle_waiters_;
    if (status == std::cv_status::timeout && wake_at == until) break;
  }
  --waiters_;
  return scope_done_locked(filter);
}

std::vector<JobPtr> RegistryCore::take(const JobFilter& filter, bool keep,
                                       std::unordered_set<JobId>* delivered,
                                       std::vector<ReceivedJob>* out) {
  Released released;
  std::vector<JobPtr> jobs;
  std::lock_guard lock(mutex_);
  if (keep) {
    for (const JobPtr& job : finished_) {
      if (!filter.matches(*job) || (delivered != nullptr && delivered->contains(job->id))) continue;
      if (delivered != nullptr) delivered->insert(job->id);
      jobs.push_back(job);
    }
    for_each_batch_run(jobs, [](const auto& batch, auto run) { mark_received(*batch, run); });
  } else {
    auto taken = std::stable_partition(finished_.begin(), finished_.end(),
                                       [&](const JobPtr& job) { return !filter.matches(*job); });
    jobs.assign(std::make_move_iterator(taken), std::make_move_iterator(finished_.end()));
    finished_.erase(taken, finished_.end());
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
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      JobPtr& job = jobs[i];
      if (data != nullptr) job->data = std::move((*data)[i]);
      // Its entry may have been compacted away: it goes back in id order.
      auto at = std::lower_bound(index_.begin(), index_.end(), job->id, entry_before);
      if (at != index_.end() && at->id == job->id) {
        at->job = job;
        --index_gaps_;
      } else {
        index_.insert(at, IndexEntry{job->id, job});
      }
      job->received = false;
      --job->batch->received;
      ++job->batch->held;
      ++job->batch->awaiting_receipt;
      ++held_;
      // Its batch may have been pruned when the job was taken; track it again.
      if (std::none_of(batches_.begin(), batches_.end(),
                       [&](const auto& b) { return b == job->batch; })) {
        batches_.push_back(job->batch);
      }
      finished_.push_back(std::move(job));
    }
  }
  changed_.notify_all();
}

std::size_t RegistryCore::remove_finished(const JobFilter& filter) {
  Released released;
  std::lock_guard lock(mutex_);
  auto removed = std::stable_partition(finished_.begin(), finished_.end(),
                                       [&](const JobPtr& job) { return !filter.matches(*job); });
  released.jobs.assign(std::make_move_iterator(removed), std::make_move_iterator(finished_.end()));
  drop_locked(released.jobs, false, released.resume);
  finished_.erase(removed, finished_.end());
  prune_batches_locked(released.batches);
  return released.jobs.size();
}

const JobPtr* RegistryCore::entry_locked(JobId id) const {
  auto at = find_entry(index_, id);
  return at == index_.end() ? nullptr : &at->job;
}

bool RegistryCore::holds_locked(const JobRecord& job) const {
  const JobPtr* entry = entry_locked(job.id);
  return entry != nullptr && entry->get() == &job;
}

JobPtr RegistryCore::find_locked(JobId id) const {
  const JobPtr* entry = entry_locked(id);
  return entry != nullptr ? *entry : nullptr;
}

void RegistryCore::drop_locked(std::span<const JobPtr> jobs, bool receive,
                               std::vector<std::shared_ptr<BatchCore>>& resume) {
  for_each_batch_run(jobs, [&](const std::shared_ptr<BatchCore>& batch, auto run) {
    for (const JobPtr& job : run) {
      auto at = find_entry(index_, job->id);
      if (at != index_.end()) {
        at->job = nullptr;
        ++index_gaps_;
      }
    }
    if (receive) mark_received(*batch, run);
    // Only finished jobs are dropped. Crossing below max_unreceived may end a receiver's pause.
    std::size_t awaiting = batch->awaiting_receipt.fetch_sub(run.size());
    if (awaiting >= batch->max_unreceived && awaiting - run.size() < batch->max_unreceived) {
      resume.push_back(batch);
    }
    batch->held -= run.size();
    held_ -= run.size();
  });
  // Gaps go once they are most of the index, so it holds at most about twice the jobs held,
  // whichever jobs stay, at an amortized constant cost per job.
  if (index_gaps_ > kMinGapsToCompact && 2 * index_gaps_ > index_.size()) {
    std::erase_if(index_, [](const IndexEntry& entry) { return entry.job == nullptr; });
    index_gaps_ = 0;
  }
}

void RegistryCore::prune_batches_locked(std::vector<std::shared_ptr<BatchCore>>& released) {
  auto gone = std::stable_partition(batches_.begin(), batches_.end(), [](const auto& batch) {
    return !(batch->done() && batch->held.load() == 0);
  });
  released.insert(released.end(), std::make_move_iterator(gone),
                  std::make_move_iterator(batches_.end()));
  batches_.erase(gone, batches_.end());
}

std::size_t RegistryCore::size() const {
  std::lock_guard lock(mutex_);
  return held_;
}

std::optional<JobState> RegistryCore::state(JobId id) const {
  std::lock_guard lock(mutex_);
  JobPtr job = find_locked(id);
  if (!job) return std::nullopt;
  return job->state.load();
}

JobId RegistryCore::next_id() const {
  std::lock_guard lock(mutex_);
  return next_id_;
}

std::size_t RegistryCore::index_slots() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

}  // namespace rsp::detail
