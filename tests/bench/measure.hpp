// The one timing loop the throughput cases share: a workload timed once per iteration, its
// result checked, its cost reported per unit of `n`.
#pragma once

#include <cstddef>

#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {

/// Times `workload` (returning an Outcome) per iteration; reports ns per unit under `per`
/// ("ns_per_job", "ns_per_input", ...) and the jobs the workload ran, when it counts them.
template <class Workload>
void measure_per(benchmark::State& state, std::size_t n, const char* per, Workload workload) {
  for (auto _ : state) {
    Clock::time_point start = Clock::now();
    Outcome outcome = workload();
    double ns = elapsed_ns(start);
    state.SetIterationTime(ns / 1e9);
    if (!check(state, outcome.error.empty(), outcome.error)) break;
    state.counters[per] = ns / static_cast<double>(n);
    if (outcome.jobs != 0) state.counters["jobs"] = static_cast<double>(outcome.jobs);
  }
}

}  // namespace rsbench
