// Case 8: rsp::parallel_map over a million trivial inputs with default options (automatic
// slices, typed results in a vector), beside case 1's baselines in the same run: Boost.Asio
// post(packaged_task) + future and oneTBB task_group writing into a vector.
#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

class TypedResults : public benchmark::Fixture {
 protected:
  template <class Workload>
  void measure(benchmark::State& state, std::size_t n, Workload workload) {
    for (auto _ : state) {
      Clock::time_point start = Clock::now();
      Outcome outcome = workload();
      double ns = elapsed_ns(start);
      state.SetIterationTime(ns / 1e9);
      if (!check(state, outcome.error.empty(), outcome.error)) break;
      state.counters["ns_per_input"] = ns / static_cast<double>(n);
    }
  }
};

BENCHMARK_DEFINE_F(TypedResults, ParallelMap)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure(state, n, [n] { return rsparallel_parallel_map(n); });
}

BENCHMARK_REGISTER_F(TypedResults, ParallelMap)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
