#include "rsparallel/receive_job.hpp"

#include <algorithm>
#include <unordered_set>

#include "detail/access.hpp"
#include "detail/clock.hpp"
#include "detail/job_log.hpp"
#include "detail/pool_core.hpp"
#include "detail/receive_engine.hpp"
#include "detail/validate.hpp"

namespace rsp {

void validate(const ReceiveOptions& options) {
  detail::require_not_negative("ReceiveOptions::timeout", options.timeout);
}

namespace detail {
namespace {

constexpr std::chrono::milliseconds kProgressInterval{100};

/// One receive call: its deadline, and the batches it has seen, for progress counts that
/// survive the registry forgetting a batch once all its jobs are received.
class ReceiveCall {
 public:
  /// A `streaming` call (without keep or id) holds back feeding of the batches it covers while
  /// it has max_unreceived of their jobs to take, so its memory stays bounded however slow it is.
  ReceiveCall(RegistryCore& registry, const JobFilter& filter, const ReceiveOptions& options,
              bool streaming)
      : registry_(registry),
        filter_(filter),
        options_(options),
        start_(Clock::now()),
        streaming_(streaming && !options.keep && !filter.id),
        last_report_(start_) {
    validate(options);
    deadline_ = options.timeout.count() == 0 ? Clock::time_point::max()
                                             : deadline_after(start_, options.timeout);
    if (!options.log_file.empty()) log_.emplace(options.log_file);
    note_batches();
  }

  ~ReceiveCall() {
    if (!streaming_) return;
    for (const auto& batch : batches_) {
      --batch->streamers;
      resume_feeding(*batch);
    }
  }

  ReceiveCall(const ReceiveCall&) = delete;
  ReceiveCall& operator=(const ReceiveCall&) = delete;

  /// Batches created since the call began are covered too.
  void note_batches() {
    for (auto& batch : registry_.batches(filter_)) {
      if (std::find(batches_.begin(), batches_.end(), batch) == batches_.end()) {
        if (streaming_) ++batch->streamers;
        batches_.push_back(std::move(batch));
      }
    }
  }

  bool expired() const { return Clock::now() >= deadline_; }

  /// When to wake next: the deadline, or sooner when a progress report is due.
  Clock::time_point next_wake() const {
    if (!options_.on_progress) return deadline_;
    return std::min(deadline_, last_report_ + kProgressInterval);
  }

  /// Calls on_progress if kProgressInterval passed since the call began or last reported: a
  /// stream of small jobs must not call it on every hand-over.
  void report_progress_if_due() {
    if (options_.on_progress && Clock::now() >= last_report_ + kProgressInterval) {
      report_progress();
    }
  }

  /// Calls on_progress now (at the end of the call).
  void report_progress() {
    if (!options_.on_progress) return;
    last_report_ = Clock::now();
    note_batches();
    Progress progress;
    for (const auto& batch : batches_) accumulate(progress, batch->progress());
    progress.elapsed = Clock::now() - start_;
    options_.on_progress(progress);
  }

  /// The job's log row, in this call's run.
  std::string row(const ReceivedJob& job) const { return csv_row(job, log_->run()); }

  void log(const std::vector<std::string>& rows) {
    if (log_) log_->append(rows);
  }

  bool logging() const { return log_.has_value(); }

 private:
  static void resume_feeding(BatchCore& batch) {
    if (batch.feeding_done()) return;
    if (std::shared_ptr<PoolCore> pool = batch.pool.lock()) pool->schedule_feed();
  }

  RegistryCore& registry_;
  const JobFilter& filter_;
  const ReceiveOptions& options_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  const bool streaming_;
  Clock::time_point last_report_;
  std::optional<JobLog> log_;
  std::vector<std::shared_ptr<BatchCore>> batches_;
};

}  // namespace

std::vector<ReceivedJob> receive_all(RegistryCore& registry, const JobFilter& filter,
                                     const ReceiveOptions& options, bool* complete) {
  ReceiveCall call(registry, filter, options, false);
  bool all_finished = false;
  if (options.wait) {
    while (!(all_finished = registry.wait(filter, false, call.next_wake(), nullptr)) &&
           !call.expired()) {
      call.report_progress_if_due();
    }
  } else if (complete != nullptr) {
    all_finished = registry.wait(filter, false, Clock::now(), nullptr);  // a look, no wait
  }
  // Looked at before the take: a job finishing in between makes a false "not complete" at
  // worst, never a "complete" with a job left behind.
  std::vector<ReceivedJob> jobs;
  std::vector<JobPtr> taken = registry.take(filter, options.keep, nullptr, &jobs);
  if (call.logging()) {
    std::vector<std::string> rows;
    rows.reserve(jobs.size());
    for (const ReceivedJob& job : jobs) rows.push_back(call.row(job));
    try {
      call.log(rows);
    } catch (...) {
      // The caller gets the error instead of the jobs, so the jobs go back.
      if (!options.keep) registry.put_back(std::move(taken), &jobs);
      throw;
    }
  }
  try {
    call.report_progress();
  } catch (...) {
    // The caller gets the error instead of the jobs, so the jobs go back (the log has them).
    if (!options.keep) registry.put_back(std::move(taken), &jobs);
    throw;
  }
  if (complete != nullptr) *complete = all_finished;
  return jobs;
}

ReceiveResult receive_each(RegistryCore& registry, const JobFilter& filter,
                           const ReceiveOptions& options, const ReceiveCallback& on_job) {
  if (!on_job) throw std::invalid_argument("rsp::receive_runspace_job: the callback is empty");
  ReceiveCall call(registry, filter, options, true);
  KeepCursor delivered;  // with keep: the jobs this call already handed over
  KeepCursor* skip = options.keep ? &delivered : nullptr;
  std::size_t handed_over = 0;
  bool all_finished = false;
  for (;;) {
    call.note_batches();
    all_finished = registry.wait(filter, true, call.next_wake(), skip);
    // Without keep the taken jobs are this call's alone, and the callback gets their data in
    // place; with keep it gets copies, since other receivers may take the same jobs.
    std::vector<ReceivedJob> copies;
    std::vector<JobPtr> jobs =
        registry.take(filter, options.keep, skip, options.keep ? &copies : nullptr);
    std::vector<std::string> rows;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      ReceivedJob& job = options.keep ? copies[i] : jobs[i]->data;
      // The row is made first: the callback may move the job's data away.
      if (call.logging()) rows.push_back(call.row(job));
      try {
        on_job(job);
      } catch (...) {
        if (!options.keep) {
          // Not lost: this job and the ones after it go back, unreceived.
          jobs.erase(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(i));
          registry.put_back(std::move(jobs));
        }
        if (call.logging()) rows.pop_back();
        try {
          call.log(rows);  // the jobs handed over before the throw
        } catch (...) {
          // The callback's exception is the one the caller must see.
        }
        throw;
      }
      ++handed_over;
    }
    call.log(rows);
    if (all_finished || call.expired()) break;
    call.report_progress_if_due();
  }
  call.report_progress();
  return ReceiveResult{.received = handed_over, .complete = all_finished};
}

}  // namespace detail

namespace {
detail::JobFilter filter_for(const ReceiveOptions& options, const detail::PoolCore* pool) {
  detail::JobFilter filter;
  filter.pool = pool;
  filter.name = options.name;
  filter.id = options.id;
  return filter;
}
}  // namespace

// Each call holds the registry: a callback may destroy the pool that held it.
std::vector<ReceivedJob> receive_runspace_job(RunspacePool& pool, ReceiveOptions options) {
  std::shared_ptr<detail::RegistryCore> registry = detail::Access::core(pool)->shared_registry();
  return detail::receive_all(*registry, filter_for(options, detail::Access::core(pool).get()),
                             options);
}

std::vector<ReceivedJob> receive_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                                              ReceiveOptions options) {
  if (!pool) throw std::invalid_argument("rsp::receive_runspace_job: pool is null");
  return receive_runspace_job(*pool, std::move(options));
}

std::vector<ReceivedJob> receive_runspace_job(JobRegistry& registry, ReceiveOptions options) {
  std::shared_ptr<detail::RegistryCore> core = detail::Access::core(registry);
  return detail::receive_all(*core, filter_for(options, nullptr), options);
}

std::vector<ReceivedJob> receive_runspace_job(RunspacePool& pool, ReceiveOptions options,
                                              ReceiveResult& result) {
  std::shared_ptr<detail::RegistryCore> registry = detail::Access::core(pool)->shared_registry();
  bool complete = false;
  std::vector<ReceivedJob> jobs = detail::receive_all(
      *registry, filter_for(options, detail::Access::core(pool).get()), options, &complete);
  result = ReceiveResult{.received = jobs.size(), .complete = complete};
  return jobs;
}

std::vector<ReceivedJob> receive_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                                              ReceiveOptions options, ReceiveResult& result) {
  if (!pool) throw std::invalid_argument("rsp::receive_runspace_job: pool is null");
  return receive_runspace_job(*pool, std::move(options), result);
}

std::vector<ReceivedJob> receive_runspace_job(JobRegistry& registry, ReceiveOptions options,
                                              ReceiveResult& result) {
  std::shared_ptr<detail::RegistryCore> core = detail::Access::core(registry);
  bool complete = false;
  std::vector<ReceivedJob> jobs =
      detail::receive_all(*core, filter_for(options, nullptr), options, &complete);
  result = ReceiveResult{.received = jobs.size(), .complete = complete};
  return jobs;
}

ReceiveResult receive_runspace_job(RunspacePool& pool, ReceiveOptions options,
                                   ReceiveCallback on_job) {
  std::shared_ptr<detail::RegistryCore> registry = detail::Access::core(pool)->shared_registry();
  return detail::receive_each(*registry, filter_for(options, detail::Access::core(pool).get()),
                              options, on_job);
}

ReceiveResult receive_runspace_job(JobRegistry& registry, ReceiveOptions options,
                                   ReceiveCallback on_job) {
  std::shared_ptr<detail::RegistryCore> core = detail::Access::core(registry);
  return detail::receive_each(*core, filter_for(options, nullptr), options, on_job);
}

}  // namespace rsp
