#include "detail/job_index.hpp"

#include <algorithm>

namespace rsp::detail {
namespace {
// Gaps are dropped only past this many, so a small registry never compacts.
constexpr std::size_t kMinGapsToCompact = 1024;

constexpr auto entry_before = [](const auto& entry, JobId id) { return entry.id < id; };
}  // namespace

std::vector<JobIndex::Entry>::iterator JobIndex::lower_bound(JobId id) {
  return std::lower_bound(entries_.begin(), entries_.end(), id, entry_before);
}

std::vector<JobIndex::Entry>::const_iterator JobIndex::lower_bound(JobId id) const {
  return std::lower_bound(entries_.begin(), entries_.end(), id, entry_before);
}

void JobIndex::restore(const JobPtr& job) {
  // Its entry may have been compacted away.
  auto at = lower_bound(job->id);
  if (at != entries_.end() && at->id == job->id) {
    if (!at->job) --gaps_;
    at->job = job;
  } else {
    entries_.insert(at, Entry{job->id, job});
  }
}

void JobIndex::remove(JobId id) {
  auto at = lower_bound(id);
  if (at != entries_.end() && at->id == id && at->job) {
    at->job = nullptr;
    ++gaps_;
  }
}

void JobIndex::compact_if_sparse() {
  if (gaps_ > kMinGapsToCompact && 2 * gaps_ > entries_.size()) {
    std::erase_if(entries_, [](const Entry& entry) { return entry.job == nullptr; });
    gaps_ = 0;
  }
}

const JobPtr* JobIndex::find(JobId id) const {
  auto at = lower_bound(id);
  return at != entries_.end() && at->id == id && at->job ? &at->job : nullptr;
}

}  // namespace rsp::detail
