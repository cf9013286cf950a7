#include "detail/job_filter.hpp"

#include "detail/batch_core.hpp"

namespace rsp::detail {

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

}  // namespace rsp::detail
