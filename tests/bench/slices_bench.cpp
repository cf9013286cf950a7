// Case 3: a million inputs summed in automatic slices (about sqrt(n) inputs per job) beside a bare
// boost::asio post per input.
#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

class SlicedItems : public benchmark::Fixture {
 protected:
  template <class Workload>
  void measure(benchmark::State& state, std::size_t n, Workload workload) {
    for (auto _ : state) {
      Clock::time_point start = Clock::now();
      Outcome outcome = workload();
      double ns = elapsed_ns(start);
      state.SetIterationTime(ns / 1e9);
      if (!check(state, outcome.error.empty(), outcome.error)) break;
      state.counters["ns_per_item"] = ns / static_cast<double>(n);
      state.counters["jobs"] = static_cast<double>(outcome.jobs);
    }
  }
};

BENCHMARK_DEFINE_F(SlicedItems, RsparallelAutoSlices)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure(state, n, [n] { return rsparallel_auto_slices(n); });
}

BENCHMARK_DEFINE_F(SlicedItems, AsioBarePost)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure(state, n, [n] { return asio_bare_post(n); });
}

BENCHMARK_REGISTER_F(SlicedItems, RsparallelAutoSlices)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(SlicedItems, AsioBarePost)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
