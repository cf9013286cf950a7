// Which jobs a receive or clear call covers: by pool, batch, name and id.
#pragma once

#include <optional>
#include <string>

#include "detail/job_record.hpp"

namespace rsp::detail {

class PoolCore;
class BatchCore;

/// Which jobs a receive or clear call covers.
struct JobFilter {
  const PoolCore* pool = nullptr;    // null: every pool
  const BatchCore* batch = nullptr;  // null: every batch
  std::string name;                  // empty: every name
  std::optional<JobId> id;

  bool matches(const JobRecord& job) const;
  /// Whether the batch can hold matching jobs (an id filter is checked per job).
  bool matches(const BatchCore& batch) const;
};

}  // namespace rsp::detail
