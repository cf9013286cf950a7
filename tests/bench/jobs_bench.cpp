// Cases 1, 2 and 4: a million trivial jobs, one per input, through rsparallel's streaming receive,
// beside the same jobs on boost::asio::thread_pool with a std::future each, oneTBB, std::async and
// an eager job store.
#include <chrono>

#include "bench_common.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

using namespace std::chrono_literals;

class TrivialJobs : public benchmark::Fixture {};

// 1. The library: one job per input, pool of 2, each job handed to a callback as it finishes.
BENCHMARK_DEFINE_F(TrivialJobs, Rsparallel)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_job", [n] { return rsparallel_stream(n, 0ms); });
}

// 1. Baseline: post(packaged_task) on thread_pool(2), a future per input, get() each.
BENCHMARK_DEFINE_F(TrivialJobs, AsioPackagedTask)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_job", [n] { return asio_futures(n); });
}

// 2. The library with a 60 s timeout armed on every job.
BENCHMARK_DEFINE_F(TrivialJobs, RsparallelTimeout)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_job", [n] { return rsparallel_stream(n, 60s); });
}

// 4. Further peers.
BENCHMARK_DEFINE_F(TrivialJobs, TbbTaskGroup)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_job", [n] { return tbb_task_group(n); });
}

BENCHMARK_DEFINE_F(TrivialJobs, StdAsyncBatched)(benchmark::State& state) {
  // A thread per job: a tenth of the inputs keeps the suite's run short; ns per job is what
  // compares.
  std::size_t n = config().async_inputs;
  measure_per(state, n, "ns_per_job", [n] { return std_async_batched(n, 1000); });
}

BENCHMARK_DEFINE_F(TrivialJobs, EagerRecords)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_job", [n] { return eager_records(n); });
}

#define RSBENCH_HEAVY(fixture, name) \
  BENCHMARK_REGISTER_F(fixture, name)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)

RSBENCH_HEAVY(TrivialJobs, Rsparallel);
RSBENCH_HEAVY(TrivialJobs, AsioPackagedTask);
RSBENCH_HEAVY(TrivialJobs, RsparallelTimeout);
RSBENCH_HEAVY(TrivialJobs, TbbTaskGroup);
RSBENCH_HEAVY(TrivialJobs, StdAsyncBatched);
RSBENCH_HEAVY(TrivialJobs, EagerRecords);

}  // namespace
}  // namespace rsbench
