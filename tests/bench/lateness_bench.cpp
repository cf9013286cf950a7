// Case 6: how late a timeout ends a job. 2,000 jobs blocked in boost::this_thread::sleep_for(5 s)
// with a 20 ms timeout on 64 runspaces; the lateness of a job is its duration minus the timeout.
// Beside it, the floor the OS gives: 64 threads sleeping 20 ms at a time, and how late they wake.
#include <mutex>
#include <ranges>
#include <vector>

#include <boost/chrono.hpp>
#include <boost/thread/thread.hpp>
#include <rsparallel/rsparallel.hpp>

#include "bench_common.hpp"

namespace rsbench {
namespace {

using namespace std::chrono_literals;

class TimeoutLateness : public benchmark::Fixture {
 protected:
  static void report(benchmark::State& state, const std::vector<double>& late_ms) {
    state.counters["p50_ms"] = quantile(late_ms, 0.50);
    state.counters["p99_ms"] = quantile(late_ms, 0.99);
    state.counters["max_ms"] = quantile(late_ms, 1.0);
    state.counters["jobs"] = static_cast<double>(late_ms.size());
  }
};

BENCHMARK_DEFINE_F(TimeoutLateness, Rsparallel)(benchmark::State& state) {
  const Config& c = config();
  for (auto _ : state) {
    auto pool = rsp::new_runspace_pool(
        {.min_runspaces = c.lateness_runspaces, .max_runspaces = c.lateness_runspaces});
    Clock::time_point start = Clock::now();
    rsp::new_runspace_job(
        *pool, std::views::iota(std::size_t{0}, c.lateness_jobs),
        [](std::size_t) { boost::this_thread::sleep_for(boost::chrono::seconds(5)); },
        {.timeout = c.lateness_timeout});
    std::vector<double> late_ms;
    late_ms.reserve(c.lateness_jobs);
    std::string error;
    rsp::receive_runspace_job(*pool, {.timeout = 0ms}, [&](rsp::ReceivedJob& job) {
      if (job.state != rsp::JobState::TimedOut && error.empty()) {
        error = "job " + std::to_string(job.id) + " ended " + std::string(to_string(job.state));
      }
      late_ms.push_back(
          std::chrono::duration<double, std::milli>(job.duration - c.lateness_timeout).count());
    });
    state.SetIterationTime(elapsed_ns(start) / 1e9);
    pool.reset();
    if (!check(state, error.empty(), error)) break;
    if (!check(state, late_ms.size() == c.lateness_jobs, "jobs missing")) break;
    report(state, late_ms);
  }
}

BENCHMARK_DEFINE_F(TimeoutLateness, PlainSleep)(benchmark::State& state) {
  const Config& c = config();
  for (auto _ : state) {
    std::mutex mutex;
    std::vector<double> late_ms;
    late_ms.reserve(c.lateness_jobs);
    std::size_t next = 0;
    Clock::time_point start = Clock::now();
    std::vector<boost::thread> threads;
    for (std::size_t t = 0; t < c.lateness_runspaces; ++t) {
      threads.emplace_back([&] {
        for (;;) {
          {
            std::lock_guard lock(mutex);
            if (next == c.lateness_jobs) return;
            ++next;
          }
          Clock::time_point slept = Clock::now();
          boost::this_thread::sleep_for(boost::chrono::milliseconds(c.lateness_timeout.count()));
          double late =
              std::chrono::duration<double, std::milli>(Clock::now() - slept - c.lateness_timeout)
                  .count();
          std::lock_guard lock(mutex);
          late_ms.push_back(late);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    state.SetIterationTime(elapsed_ns(start) / 1e9);
    report(state, late_ms);
  }
}

BENCHMARK_REGISTER_F(TimeoutLateness, Rsparallel)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(TimeoutLateness, PlainSleep)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
