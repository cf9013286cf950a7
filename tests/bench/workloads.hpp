// rsparallel benchmarks: each workload once, shared by the timed cases and the peak-RSS children
// so that both measure exactly the same code.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <rsparallel/options.hpp>

namespace rsbench {

/// What a workload computed, to check it did all the work.
struct Outcome {
  std::uint64_t sum = 0;
  std::size_t jobs = 0;   // jobs (or tasks) that ran
  std::size_t items = 0;  // inputs they covered
  std::string error;      // empty when every job completed
};

// ---- n trivial jobs, one per input (cases 1, 2, 4 and 7) -----------------------------------

/// new_runspace_job over iota(0, n) on a pool of min = max = 2, streaming receive with a callback
/// taking rsp::ReceivedJob&; `timeout` is JobOptions::timeout (0 = none).
Outcome rsparallel_stream(std::size_t n, std::chrono::milliseconds timeout);
/// boost::asio::thread_pool(2), post(packaged_task) and a std::future per input; every future is
/// collected, then get() on each.
Outcome asio_futures(std::size_t n);
/// Case 9: a registered script (one output per job: its slice's sum) over 0..n-1 on 2 runspaces
/// of the given isolation; slice 0 = automatic.
Outcome registered_stream(std::size_t n, rsp::Isolation isolation, std::size_t slice);
/// oneTBB: a task_group in a task_arena of 2 threads, one task per input writing its slot.
Outcome tbb_task_group(std::size_t n);
/// std::async(std::launch::async) per input, at most `in_flight` at once.
Outcome std_async_batched(std::size_t n, std::size_t in_flight);
/// PoshRSJob's way: every job record (a ReceivedJob-like record with its task and future) is
/// created before any runs; then all are posted to boost::asio::thread_pool(2) and collected.
Outcome eager_records(std::size_t n);

// ---- n inputs summed (case 3) --------------------------------------------------------------

/// new_runspace_job with slice_size 0 (about sqrt(n) inputs per job), a span script summing its
/// slice, pool of 2, streaming receive.
Outcome rsparallel_auto_slices(std::size_t n);
/// boost::asio::thread_pool(2), one post per input adding it to an atomic, then join.
Outcome asio_bare_post(std::size_t n);

// ---- typed results (case 8) ----------------------------------------------------------------

/// rsp::parallel_map over iota(0, n) with default options (automatic slices, a pool of the
/// machine's cores), trivial_job per input; every Result checked and summed.
Outcome rsparallel_parallel_map(std::size_t n);
/// Bytes of the vector parallel_map returns for n inputs (n * sizeof(rsp::Result<size_t>)).
std::size_t parallel_map_result_bytes(std::size_t n);

// ---- CPU-bound (case 5) --------------------------------------------------------------------

/// `jobs` jobs of spin(iterations) on a pool of min = max = `runspaces`, streaming receive.
Outcome rsparallel_cpu(std::size_t jobs, std::size_t runspaces, std::uint64_t iterations);
/// The same on boost::asio::thread_pool(threads).
Outcome asio_cpu(std::size_t jobs, std::size_t threads, std::uint64_t iterations);

}  // namespace rsbench
