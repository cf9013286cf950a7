#include "detail/batch_core.hpp"

#include "detail/pool_core.hpp"
#include "detail/registry_core.hpp"

namespace rsp::detail {

BatchCore::BatchCore(std::string name_, JobOptions options_, std::size_t slice_,
                     std::optional<std::size_t> input_count, std::size_t max_unreceived_,
                     std::shared_ptr<PoolCore> pool_,
                     const std::shared_ptr<RegistryCore>& registry_, std::shared_ptr<void> script,
                     std::unique_ptr<InputFeed> feed)
    : name(std::move(name_)),
      options(std::move(options_)),
      slice(slice_),
      expected_jobs(input_count ? std::optional<std::size_t>(*input_count / slice_ +
                                                             (*input_count % slice_ != 0))
                                : std::nullopt),
      max_unreceived(max_unreceived_),
      pool_identity(pool_.get()),
      pool(pool_),
      registry(registry_),
      script_(std::move(script)),
      feed_(std::move(feed)) {}

void BatchCore::on_job_finished(JobState state, JobState previous) {
  switch (state) {
    case JobState::Completed:
      ++completed;
      break;
    case JobState::Failed:
      ++failed;
      break;
    case JobState::Stopped:
      ++stopped;
      break;
    case JobState::TimedOut:
      ++timed_out;
      break;
    default:
      break;
  }
  if (previous == JobState::Running) --running;
  if (unfinished.fetch_sub(1) == 1) check_done();
}

void BatchCore::resume_feeding() {
  if (streamers.load() == 0 || feeding_done()) return;
  if (std::shared_ptr<PoolCore> owner = pool.lock()) owner->schedule_feed();
}

void BatchCore::cancel_creation() {
  if (unfinished.fetch_sub(1) == 1) check_done();
}

void BatchCore::mark_feeding_done() {
  {
    Lock lock(mutex_);
    if (feeding_done_) return;
    feeding_done_ = true;
  }
  check_done();
}

void BatchCore::check_done() {
  {
    Lock lock(mutex_);
    if (!feeding_done_ || unfinished.load() != 0 || done_.load()) return;
    done_.store(true);
  }
  done_cv_.notify_all();
  if (std::shared_ptr<RegistryCore> owner = registry.lock()) owner->notify_changed();
}

bool BatchCore::done() const { return done_.load(); }

bool BatchCore::feeding_done() const {
  Lock lock(mutex_);
  return feeding_done_;
}

bool BatchCore::wait_until(std::chrono::steady_clock::time_point deadline) const {
  Lock lock(mutex_);
  return lock.wait_until(done_cv_, deadline, [&] { return done_.load(); });
}

Progress BatchCore::progress() const {
  Progress p;
  p.completed = completed.load();
  p.failed = failed.load();
  p.stopped = stopped.load();
  p.timed_out = timed_out.load();
  p.running = running.load();
  p.received = received.load();
  std::size_t made = created.load();
  bool fed = feeding_done();
  p.total = fed ? made : std::max(made, expected_jobs.value_or(made));
  p.total_known = fed || expected_jobs.has_value();
  std::size_t accounted = p.running + p.finished();
  p.not_started = p.total > accounted ? p.total - accounted : 0;
  return p;
}

void accumulate(Progress& total, const Progress& part) {
  total.total += part.total;
  total.not_started += part.not_started;
  total.running += part.running;
  total.completed += part.completed;
  total.failed += part.failed;
  total.stopped += part.stopped;
  total.timed_out += part.timed_out;
  total.received += part.received;
  total.total_known = total.total_known && part.total_known;
}

}  // namespace rsp::detail
