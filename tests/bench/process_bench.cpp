// Case 9: a process pool's cost per job (each runspace a worker process, issue 13), beside the
// same jobs on a thread pool in the same run, and per input with automatic slices; and the time
// from a hung job's deadline to a fresh worker running the next job.
#include <rsparallel/rsparallel.hpp>
#include <rsparallel/script.hpp>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace rsbench {
namespace {

using namespace std::chrono_literals;

// Ignores its stop for a minute: only the kill ends it.
const auto deaf = rsp::register_script("bench.deaf", [](const int&) {
  auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  return 0;
});
const auto ready = rsp::register_script("bench.ready", [](const int& x) { return x; });

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

// 9. A job ignores its stop past its timeout: from its deadline to the next job starting on a
// fresh worker (the stop grace, the kill, the reap, a new worker spawned and its session open).
BENCHMARK_DEFINE_F(ProcessJobs, TimeoutToFreshWorker)(benchmark::State& state) {
  constexpr auto kTimeout = 50ms;
  constexpr auto kGrace = 100ms;
  constexpr int kRounds = 10;
  for (auto _ : state) {
    auto start = Clock::now();
    std::vector<double> total_ms, respawn_ms;
    auto pool = rsp::new_runspace_pool(
        {.max_runspaces = 1, .stop_grace = kGrace, .isolation = rsp::Isolation::Process});
    for (int round = 0; round < kRounds; ++round) {
      rsp::new_runspace_job(*pool, std::vector<int>{0}, deaf,
                            {.name = "hung", .timeout = kTimeout});
      rsp::new_runspace_job(*pool, std::vector<int>{1}, ready, {.name = "next"});
      auto hung = rsp::receive_runspace_job(*pool, {.name = "hung", .wait = true});
      auto next = rsp::receive_runspace_job(*pool, {.name = "next", .wait = true});
      if (hung.size() != 1 || next.size() != 1 || hung[0].state != rsp::JobState::TimedOut ||
          next[0].state != rsp::JobState::Completed) {
        state.SkipWithError("the hung job did not time out, or the next one did not complete");
        return;
      }
      auto deadline = hung[0].started + kTimeout;
      double ms = std::chrono::duration<double, std::milli>(next[0].started - deadline).count();
      total_ms.push_back(ms);
      respawn_ms.push_back(ms - std::chrono::duration<double, std::milli>(kGrace).count());
    }
    state.SetIterationTime(elapsed_ns(start) / 1e9);
    state.counters["p50_ms"] = quantile(total_ms, 0.5);
    state.counters["max_ms"] = quantile(total_ms, 1.0);
    state.counters["respawn_p50_ms"] = quantile(respawn_ms, 0.5);
  }
}

#define RSBENCH_HEAVY(fixture, name) \
  BENCHMARK_REGISTER_F(fixture, name)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)

RSBENCH_HEAVY(ProcessJobs, Process);
RSBENCH_HEAVY(ProcessJobs, Thread);
RSBENCH_HEAVY(ProcessJobs, ProcessSlices);
RSBENCH_HEAVY(ProcessJobs, TimeoutToFreshWorker);

}  // namespace
}  // namespace rsbench
