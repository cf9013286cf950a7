// The registry's by-id index: a vector sorted by id (ids are handed out in increasing order), so
// a lookup is a binary search. A job received or cleared leaves a gap, and gaps go once they are
// most of the index: it holds at most about twice the jobs held, whichever jobs stay (one early
// job held for ever does not make it grow), at an amortized constant cost per job.
#pragma once

#include <cstddef>
#include <vector>

#include "detail/job_record.hpp"

namespace rsp::detail {

/// Thread Safety: none of its own; the registry's mutex guards it.
class JobIndex {
 public:
  /// A job with an id above every id added before.
  void append(const JobPtr& job) { entries_.push_back(Entry{job->id, job}); }
  /// A job taken out earlier comes back, in id order.
  void restore(const JobPtr& job);
  /// Leaves a gap where the job was, if it is there.
  void remove(JobId id);
  /// Drops the gaps once they are most of the index.
  void compact_if_sparse();

  /// The job with this id, or null.
  const JobPtr* find(JobId id) const;
  /// Whether `job` itself is held, by address.
  bool holds(const JobRecord& job) const {
    const JobPtr* entry = find(job.id);
    return entry != nullptr && entry->get() == &job;
  }
  /// Calls fn(job) for each job held, in id order.
  template <class Fn>
  void for_each(Fn fn) const {
    for (const Entry& entry : entries_) {
      if (entry.job) fn(entry.job);
    }
  }
  /// Entries, held jobs and gaps alike (for tests).
  std::size_t slots() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    JobId id;
    JobPtr job;  // null once received or cleared: a gap
  };

  std::vector<Entry>::iterator lower_bound(JobId id);
  std::vector<Entry>::const_iterator lower_bound(JobId id) const;

  std::vector<Entry> entries_;
  std::size_t gaps_ = 0;
};

}  // namespace rsp::detail
