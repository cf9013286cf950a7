// Case 9: a process pool's cost per job (each runspace a worker process, issue 13), beside the
// same jobs on a thread pool in the same run, and per input with automatic slices.
#include "bench_common.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

class ProcessJobs : public benchmark::Fixture {};

// 9. One job per input on 2 worker processes: a fifth of the inputs (200,000 by default).
BENCHMARK_DEFINE_F(ProcessJobs, Process)(benchmark::State& state) {
  std::size_t n = config().inputs / 5;
  measure_per(state, n, "ns_per_input",
              [n] { return registered_stream(n, rsp::Isolation::Process, 1); });
}

// 9. Baseline: the same registered script, one job per input, on 2 threads.
BENCHMARK_DEFINE_F(ProcessJobs, Thread)(benchmark::State& state) {
  std::size_t n = config().inputs / 5;
  measure_per(state, n, "ns_per_input",
              [n] { return registered_stream(n, rsp::Isolation::Thread, 1); });
}

// 9. Automatic slices on 2 worker processes: every input, about sqrt(n) per job.
BENCHMARK_DEFINE_F(ProcessJobs, ProcessSlices)(benchmark::State& state) {
  std::size_t n = config().inputs;
  measure_per(state, n, "ns_per_input",
              [n] { return registered_stream(n, rsp::Isolation::Process, 0); });
}

#define RSBENCH_HEAVY(fixture, name) \
  BENCHMARK_REGISTER_F(fixture, name)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)

RSBENCH_HEAVY(ProcessJobs, Process);
RSBENCH_HEAVY(ProcessJobs, Thread);
RSBENCH_HEAVY(ProcessJobs, ProcessSlices);

}  // namespace
}  // namespace rsbench
