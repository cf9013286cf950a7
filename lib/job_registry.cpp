#include "rsparallel/job_registry.hpp"

#include "detail/registry_core.hpp"

namespace rsp {

JobRegistry::JobRegistry() : core_(std::make_shared<detail::RegistryCore>()) {}
JobRegistry::~JobRegistry() = default;

std::size_t JobRegistry::size() const { return core_->size(); }
std::optional<JobState> JobRegistry::state(JobId id) const { return core_->state(id); }
JobId JobRegistry::next_id() const { return core_->next_id(); }

Progress JobRegistry::progress() const {
  Progress total;
  for (const auto& batch : core_->batches(detail::JobFilter{})) {
    detail::accumulate(total, batch->progress());
  }
  total.elapsed = std::chrono::steady_clock::now() - core_->created_at();
  return total;
}

}  // namespace rsp
