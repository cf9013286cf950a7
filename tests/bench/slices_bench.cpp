// Case 3: a million inputs summed in automatic slices (about sqrt(n) inputs per job) beside a bare
// boost::asio post per input.
#include "bench_common.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

class SlicedItems : public benchmark::Fixture {};

BENCHMARK_DEFINE_F(SlicedItems, RsparallelAutoSlices)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_item", [n] { return rsparallel_auto_slices(n); });
}

BENCHMARK_DEFINE_F(SlicedItems, AsioBarePost)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_item", [n] { return asio_bare_post(n); });
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
