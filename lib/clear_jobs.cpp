#include "rsparallel/clear_jobs.hpp"

#include <algorithm>
#include <chrono>

#include "detail/access.hpp"
#include "detail/pool_core.hpp"
#include "detail/registry_core.hpp"

namespace rsp {

namespace {

// How long a forced clear waits, at most, for the batches it stopped to stop feeding.
constexpr std::chrono::milliseconds kFeedWait{1000};

std::size_t clear(detail::RegistryCore& registry, const detail::PoolCore* pool,
                  const ClearOptions& options) {
  detail::JobFilter filter;
  filter.pool = pool;
  filter.name = options.name;
  filter.id = options.id;
  if (options.force) {
    // An id not handed out yet matches no job: there is nothing to stop or to wait for.
    const bool future_id = options.id && *options.id >= registry.next_id();
    std::chrono::milliseconds grace{0};
    for (const auto& batch : registry.batches(filter)) {
      // A whole batch is stopped (its unread inputs dropped) unless one job was named by id.
      if (!options.id) detail::stop_batch(*batch);
      if (auto owner = batch->pool.lock()) grace = std::max(grace, owner->options().stop_grace);
    }
    for (const detail::JobPtr& job : registry.unfinished(filter)) {
      if (auto owner = job->batch->pool.lock()) owner->stop_job(job);
    }
    // Every job stopped above is finished and published (RegistryCore::finish does both at
    // once). A job the factory had created but not yet queued reaches the registry a moment
    // later, Stopped: wait for those (never for a job's code), no longer than the pools'
    // stop_grace, as a batch blocked in a read stops feeding only when the read returns.
    if (!future_id) {
      auto wait = std::min<std::chrono::milliseconds>(grace, kFeedWait);
      registry.wait(filter, false, std::chrono::steady_clock::now() + wait, nullptr);
    }
  }
  return registry.remove_finished(filter);
}

}  // namespace

std::size_t clear_runspace_jobs(RunspacePool& pool, ClearOptions options) {
  std::shared_ptr<detail::RegistryCore> registry = detail::Access::core(pool)->shared_registry();
  return clear(*registry, detail::Access::core(pool).get(), options);
}

std::size_t clear_runspace_jobs(const std::shared_ptr<RunspacePool>& pool, ClearOptions options) {
  if (!pool) throw std::invalid_argument("rsp::clear_runspace_jobs: pool is null");
  return clear_runspace_jobs(*pool, std::move(options));
}

std::size_t clear_runspace_jobs(JobRegistry& registry, ClearOptions options) {
  std::shared_ptr<detail::RegistryCore> core = detail::Access::core(registry);
  return clear(*core, nullptr, options);
}

}  // namespace rsp
