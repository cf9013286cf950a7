// Case 5: CPU-bound jobs (about 10 ms of arithmetic each) on 1 and 2 runspaces, beside the same
// jobs on boost::asio::thread_pool with 1 and 2 threads.
#include <sys/resource.h>

#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {

std::uint64_t spin(std::uint64_t iterations) {
  std::uint64_t x = 88172645463325252ULL;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    benchmark::DoNotOptimize(x);
  }
  return x;
}

std::uint64_t spin_iterations() {
  static const std::uint64_t iterations = [] {
    // The fastest of a few rounds: other processes on the machine only make rounds slower.
    constexpr std::uint64_t kProbe = 1 << 20;
    double best = 1e300;
    for (int round = 0; round < 5; ++round) {
      Clock::time_point start = Clock::now();
      benchmark::DoNotOptimize(spin(kProbe));
      best = std::min(best, elapsed_ns(start));
    }
    double wanted = std::chrono::duration<double, std::nano>(config().cpu_job_time).count();
    return static_cast<std::uint64_t>(static_cast<double>(kProbe) * wanted / best);
  }();
  return iterations;
}

namespace {

/// CPU time of the whole process (every thread), in ns.
double process_cpu_ns() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e9 + t.tv_usec * 1e3; };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

class CpuBound : public benchmark::Fixture {
 protected:
  template <class Workload>
  void measure(benchmark::State& state, Workload workload) {
    std::size_t jobs = config().cpu_jobs;
    std::uint64_t iterations = spin_iterations();
    for (auto _ : state) {
      double cpu_start = process_cpu_ns();
      Clock::time_point start = Clock::now();
      Outcome outcome = workload(jobs, iterations);
      double ns = elapsed_ns(start);
      // How many cores the process got: 2 runspaces can only be 2x faster when this nears 2.
      state.counters["cores_used"] = (process_cpu_ns() - cpu_start) / ns;
      state.SetIterationTime(ns / 1e9);
      if (!check(state, outcome.error.empty(), outcome.error)) break;
      state.counters["ms_total"] = ns / 1e6;
      state.counters["jobs"] = static_cast<double>(jobs);
      state.counters["threads"] = static_cast<double>(state.range(0));
      state.counters["rounds_per_job"] = static_cast<double>(iterations);
    }
  }
};

BENCHMARK_DEFINE_F(CpuBound, Rsparallel)(benchmark::State& state) {
  auto runspaces = static_cast<std::size_t>(state.range(0));
  measure(state, [runspaces](std::size_t jobs, std::uint64_t iterations) {
    return rsparallel_cpu(jobs, runspaces, iterations);
  });
}

BENCHMARK_DEFINE_F(CpuBound, AsioThreadPool)(benchmark::State& state) {
  auto threads = static_cast<std::size_t>(state.range(0));
  measure(state, [threads](std::size_t jobs, std::uint64_t iterations) {
    return asio_cpu(jobs, threads, iterations);
  });
}

BENCHMARK_REGISTER_F(CpuBound, Rsparallel)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(CpuBound, AsioThreadPool)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
