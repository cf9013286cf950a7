#include "rsparallel/parallel_map.hpp"

#include <algorithm>
#include <string>

#include "detail/validate.hpp"

namespace rsp::detail {

namespace {
// Finished slices a receiver may have waiting, in bytes of Results: keeps the memory beyond the
// result vector small when the caller's thread merges slower than the runspaces produce.
constexpr std::size_t kBacklogBytes = std::size_t{4} << 20;
constexpr std::size_t kMinBacklogJobs = 16;
constexpr std::size_t kMaxBacklogJobs = 256;
}  // namespace

void throw_result_failed(std::size_t input_index, JobState state,
                         const std::vector<ErrorRecord>& errors) {
  std::string message = "rsp::Result: input " + std::to_string(input_index) + " ended " +
                        std::string(to_string(state));
  if (state == JobState::Completed) message += " without a value";
  if (!errors.empty()) message += ": " + errors.back().message;
  throw JobFailed(message);
}

std::size_t map_slice_size(const ParallelOptions& options, bool takes_context) {
  if (options.timeout.count() > 0) {
    if (options.slice_size && *options.slice_size > 1) {
      reject("ParallelOptions::slice_size",
             "0 or 1 when parallel_map is given a timeout (the timeout is per input, so each "
             "input is its own job)",
             std::to_string(*options.slice_size));
    }
    return 1;
  }
  if (!options.slice_size) return takes_context ? 1 : 0;
  return *options.slice_size;
}

std::shared_ptr<RunspacePool> map_pool(const ParallelOptions& options, std::size_t slice,
                                       std::size_t result_size, std::optional<std::size_t> count) {
  std::size_t per_job = std::max<std::size_t>(1, resolve_slice_size(slice, count) * result_size);
  return parallel_pool(options,
                       std::clamp(kBacklogBytes / per_job, kMinBacklogJobs, kMaxBacklogJobs));
}

}  // namespace rsp::detail
