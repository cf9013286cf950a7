#include "rsparallel/runspace_job.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "detail/access.hpp"
#include "detail/batch_core.hpp"
#include "detail/pool_core.hpp"
#include "detail/registry_core.hpp"
#include "detail/validate.hpp"

namespace rsp {

void validate(const JobOptions& options) {
  detail::require_not_negative("JobOptions::timeout", options.timeout);
}

namespace detail {

std::size_t resolve_slice_size(std::size_t requested, std::optional<std::size_t> input_count) {
  if (requested != 0) return requested;
  if (!input_count) return 64;
  auto root = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(*input_count))));
  return std::max<std::size_t>(1, root);
}

void require_runnable(const RunspacePool& pool, bool registered_script) {
  if (pool.options().isolation == Isolation::Process && !registered_script) {
    throw std::invalid_argument(
        "rsp::new_runspace_job: the pool's runspaces are worker processes "
        "(PoolOptions::isolation = Process), which run only scripts registered with "
        "rsp::register_script; this script is not one (a lambda cannot cross to another "
        "process)");
  }
}

JobBatch submit_batch(RunspacePool& pool, std::unique_ptr<InputFeed> feed,
                      std::shared_ptr<void> script, JobOptions options, std::size_t slice,
                      std::optional<std::size_t> input_count) {
  const std::shared_ptr<PoolCore>& core = Access::core(pool);
  if (core->closing()) throw std::logic_error("rsp::new_runspace_job: the pool is closed");
  std::string name = options.name;
  auto batch = std::make_shared<BatchCore>(
      std::move(name), std::move(options), slice, input_count, core->options().max_unreceived, core,
      Access::core(pool.registry()), std::move(script), std::move(feed));
  core->registry().add_batch(batch);
  if (!core->add_batch(batch)) {
    batch->mark_feeding_done();  // done with no job; the registry forgets it
    throw std::logic_error("rsp::new_runspace_job: the pool is closed");
  }
  return Access::make_batch(std::move(batch));
}

void stop_batch(BatchCore& batch) {
  batch.stop_requested.store(true);
  std::shared_ptr<PoolCore> pool = batch.pool.lock();
  std::shared_ptr<RegistryCore> registry = batch.registry.lock();
  if (pool && registry) {
    JobFilter mine;
    mine.batch = &batch;
    std::vector<JobPtr> jobs = registry->unfinished(mine);
    // Not-started ones first: a runspace freed by stopping a running job must find none to run.
    std::stable_partition(jobs.begin(), jobs.end(), [](const JobPtr& job) {
      return job->state.load() == JobState::NotStarted;
    });
    for (const JobPtr& job : jobs) pool->stop_job(job);
    // Whoever holds the feed lock ends the batch: its range may be in the middle of a read, and
    // the batch must not look done (letting the caller free the range) until that read is over.
    pool->schedule_feed();
  } else {
    batch.mark_feeding_done();  // no pool: nothing reads the range any more
  }
}

}  // namespace detail

namespace {
const std::string kNoName;
}

const std::string& JobBatch::name() const noexcept { return core_ ? core_->name : kNoName; }

void JobBatch::wait() const { wait_until(std::chrono::steady_clock::time_point::max()); }

bool JobBatch::wait_until(std::chrono::steady_clock::time_point deadline) const {
  return !core_ || core_->wait_until(deadline);
}

void JobBatch::stop() {
  if (core_) detail::stop_batch(*core_);
}

bool JobBatch::done() const { return !core_ || core_->done(); }
std::size_t JobBatch::created() const { return core_ ? core_->created.load() : 0; }
std::optional<std::size_t> JobBatch::expected() const {
  return core_ ? core_->expected_jobs : std::optional<std::size_t>(0);
}
std::size_t JobBatch::slice_size() const { return core_ ? core_->slice : 1; }

}  // namespace rsp
