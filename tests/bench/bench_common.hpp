// rsparallel benchmarks: the run's sizes, the trivial job shared by several cases, and helpers.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rsbench {

/// Sizes of this run, set by main from --inputs=N (and scaled from it).
struct Config {
  std::size_t inputs = 1'000'000;      // cases 1-4 and 7
  std::size_t async_inputs = 100'000;  // std::async spawns a thread per job: a tenth of inputs
  std::size_t cpu_jobs = 40;           // case 5
  std::chrono::milliseconds cpu_job_time{10};
  std::size_t lateness_jobs = 2'000;  // case 6
  std::size_t lateness_runspaces = 64;
  std::chrono::milliseconds lateness_timeout{20};
};

Config& config();

using Clock = std::chrono::steady_clock;

inline double elapsed_ns(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

/// The job of the throughput cases: as little work as a job can do, and a value to check.
inline std::size_t trivial_job(std::size_t x) { return x + 1; }

/// Sum of trivial_job over 0..n-1.
inline std::uint64_t trivial_sum(std::size_t n) {
  return static_cast<std::uint64_t>(n) * (static_cast<std::uint64_t>(n) + 1) / 2;
}

/// Wrong results seen so far; main exits non-zero when there were any. Counted here because a
/// repetition that failed is left out of the aggregates a reporter sees.
int& failures();

/// Reports a wrong result as an error of the benchmark and counts it.
inline bool check(benchmark::State& state, bool ok, const std::string& what) {
  if (!ok) {
    ++failures();
    state.SkipWithError(what.c_str());
  }
  return ok;
}

/// The q-quantile (0..1) of values, by nearest rank; 0 for none.
inline double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

/// About `iterations` rounds of xorshift that the optimizer cannot remove.
std::uint64_t spin(std::uint64_t iterations);
/// Rounds of spin() that take about config().cpu_job_time on one core, measured once.
std::uint64_t spin_iterations();

/// Case 7: runs `--rss-child=<mode>` of this binary in a process of its own and returns its
/// peak resident set in KiB (ru_maxrss and /proc VmHWM), or an error message.
struct ChildRss {
  long maxrss_kib = 0;
  long hwm_kib = 0;
  std::string error;
};
ChildRss run_rss_child(const std::string& mode, std::size_t inputs);
/// Forks the process that spawns every --rss-child, while this one is still small and has one
/// thread; main calls it before any case runs, and stop_rss_launcher before it returns.
void start_rss_launcher();
void stop_rss_launcher();
/// The child side: runs `mode` over `inputs`, prints "<ru_maxrss KiB> <VmHWM KiB>", returns the
/// exit code.
int rss_child_main(const std::string& mode, std::size_t inputs);

}  // namespace rsbench
