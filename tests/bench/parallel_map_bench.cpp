// Case 8: rsp::parallel_map over a million trivial inputs with default options (automatic
// slices, typed results in a vector), beside case 1's baselines in the same run: Boost.Asio
// post(packaged_task) + future and oneTBB task_group writing into a vector.
#include "bench_common.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

class TypedResults : public benchmark::Fixture {};

BENCHMARK_DEFINE_F(TypedResults, ParallelMap)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_input", [n] { return rsparallel_parallel_map(n); });
}

BENCHMARK_REGISTER_F(TypedResults, ParallelMap)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
