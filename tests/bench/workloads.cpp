#include "workloads.hpp"

#include <any>
#include <atomic>
#include <future>
#include <ranges>
#include <span>
#include <vector>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <rsparallel/rsparallel.hpp>
#include <rsparallel/script.hpp>

#include "bench_common.hpp"

namespace rsbench {
namespace {

using namespace std::chrono_literals;

/// Receives every job of the pool as it finishes, adding up Output values of type T.
template <class T>
void receive_sum(rsp::RunspacePool& pool, Outcome& outcome) {
  rsp::receive_runspace_job(pool, {.timeout = 0ms}, [&](rsp::ReceivedJob& job) {
    ++outcome.jobs;
    outcome.items += job.input_count;
    if (job.state != rsp::JobState::Completed || job.output.size() != 1) {
      if (outcome.error.empty()) {
        outcome.error = "job " + std::to_string(job.id) + " ended " +
                        std::string(rsp::to_string(job.state)) + " with " +
                        std::to_string(job.output.size()) + " outputs";
      }
      return;
    }
    outcome.sum += std::any_cast<T>(job.output.front());
  });
}

void expect(Outcome& outcome, std::uint64_t sum, std::size_t jobs, std::size_t items) {
  if (!outcome.error.empty()) return;
  if (outcome.sum != sum || outcome.jobs != jobs || outcome.items != items) {
    outcome.error = "got sum " + std::to_string(outcome.sum) + " over " +
                    std::to_string(outcome.jobs) + " jobs and " + std::to_string(outcome.items) +
                    " items, expected " + std::to_string(sum) + ", " + std::to_string(jobs) + ", " +
                    std::to_string(items);
  }
}

}  // namespace

Outcome rsparallel_parallel_map(std::size_t n) {
  Outcome outcome;
  std::vector<rsp::Result<std::size_t>> results =
      rsp::parallel_map(std::views::iota(std::size_t{0}, n), trivial_job);
  for (const rsp::Result<std::size_t>& result : results) {
    if (!result.ok()) {
      if (outcome.error.empty()) {
        outcome.error = "input " + std::to_string(result.input_index) + " ended " +
                        std::string(rsp::to_string(result.state));
      }
      continue;
    }
    outcome.sum += *result.value;
    ++outcome.items;
  }
  outcome.jobs = outcome.items;
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

std::size_t parallel_map_result_bytes(std::size_t n) {
  return n * sizeof(rsp::Result<std::size_t>);
}

Outcome rsparallel_stream(std::size_t n, std::chrono::milliseconds timeout) {
  Outcome outcome;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(std::size_t{0}, n), trivial_job,
                        {.timeout = timeout});
  receive_sum<std::size_t>(*pool, outcome);
  pool.reset();
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

// One output per job, whatever its slice: the sum of trivial_job over its inputs.
// Case 9 (process_bench.cpp).
const auto trivial_slice =
    rsp::register_script("bench.trivial_slice", [](std::span<const std::size_t> inputs) {
      std::uint64_t sum = 0;
      for (std::size_t x : inputs) sum += trivial_job(x);
      return static_cast<std::size_t>(sum);
    });

Outcome registered_stream(std::size_t n, rsp::Isolation isolation, std::size_t slice) {
  Outcome outcome;
  auto pool =
      rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2, .isolation = isolation});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(std::size_t{0}, n), trivial_slice,
                                     {.slice_size = slice});
  receive_sum<std::size_t>(*pool, outcome);
  pool.reset();
  std::size_t jobs = batch.created();
  expect(outcome, trivial_sum(n), jobs, n);
  return outcome;
}

Outcome asio_futures(std::size_t n) {
  Outcome outcome;
  boost::asio::thread_pool threads(2);
  std::vector<std::future<std::size_t>> futures;
  futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::packaged_task<std::size_t()> task([i] { return trivial_job(i); });
    futures.push_back(task.get_future());
    boost::asio::post(threads, std::move(task));
  }
  for (auto& future : futures) {
    outcome.sum += future.get();
    ++outcome.jobs;
  }
  threads.join();
  outcome.items = outcome.jobs;
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

Outcome tbb_task_group(std::size_t n) {
  Outcome outcome;
  std::vector<std::size_t> results(n);
  tbb::task_arena arena(2);
  arena.execute([&] {
    tbb::task_group group;
    for (std::size_t i = 0; i < n; ++i) group.run([&results, i] { results[i] = trivial_job(i); });
    group.wait();
  });
  for (std::size_t value : results) outcome.sum += value;
  outcome.jobs = outcome.items = n;
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

Outcome std_async_batched(std::size_t n, std::size_t in_flight) {
  Outcome outcome;
  std::vector<std::future<std::size_t>> futures;
  futures.reserve(in_flight);
  for (std::size_t base = 0; base < n; base += in_flight) {
    futures.clear();
    for (std::size_t i = base; i < std::min(n, base + in_flight); ++i) {
      futures.push_back(std::async(std::launch::async, [i] { return trivial_job(i); }));
    }
    for (auto& future : futures) {
      outcome.sum += future.get();
      ++outcome.jobs;
    }
  }
  outcome.items = outcome.jobs;
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

namespace {
/// What an eager job system holds per input from the start: the job's record (the same
/// ReceivedJob a receiver gets from rsparallel), its input, its task and the future to collect.
struct EagerJob {
  rsp::ReceivedJob record;
  std::size_t input = 0;
  std::packaged_task<void()> task;
  std::future<void> done;
};
}  // namespace

Outcome eager_records(std::size_t n) {
  Outcome outcome;
  std::vector<EagerJob> jobs(n);
  for (std::size_t i = 0; i < n; ++i) {
    EagerJob& job = jobs[i];
    job.record.id = i + 1;
    job.record.input_index = i;
    job.record.input_count = 1;
    job.input = i;
    job.task = std::packaged_task<void()>([&job] {
      job.record.output.emplace_back(trivial_job(job.input));
      job.record.state = rsp::JobState::Completed;
    });
    job.done = job.task.get_future();
  }
  boost::asio::thread_pool threads(2);
  for (EagerJob& job : jobs) boost::asio::post(threads, [&job] { job.task(); });
  for (EagerJob& job : jobs) {
    job.done.get();
    outcome.sum += std::any_cast<std::size_t>(job.record.output.front());
    ++outcome.jobs;
  }
  threads.join();
  outcome.items = outcome.jobs;
  expect(outcome, trivial_sum(n), n, n);
  return outcome;
}

Outcome rsparallel_auto_slices(std::size_t n) {
  Outcome outcome;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(std::size_t{0}, n),
                                     [](std::span<const std::size_t> slice) {
                                       std::uint64_t sum = 0;
                                       for (std::size_t value : slice) sum += value;
                                       return sum;
                                     },
                                     {.slice_size = 0});
  std::size_t slice = batch.slice_size();
  receive_sum<std::uint64_t>(*pool, outcome);
  pool.reset();
  std::uint64_t total = n == 0 ? 0 : trivial_sum(n - 1);
  expect(outcome, total, (n + slice - 1) / slice, n);
  return outcome;
}

Outcome asio_bare_post(std::size_t n) {
  Outcome outcome;
  std::atomic<std::uint64_t> total{0};
  {
    boost::asio::thread_pool threads(2);
    for (std::size_t i = 0; i < n; ++i) {
      boost::asio::post(threads, [&total, i] { total.fetch_add(i, std::memory_order_relaxed); });
    }
    threads.join();
  }
  outcome.sum = total.load();
  outcome.jobs = outcome.items = n;
  expect(outcome, n == 0 ? 0 : trivial_sum(n - 1), n, n);
  return outcome;
}

Outcome rsparallel_cpu(std::size_t jobs, std::size_t runspaces, std::uint64_t iterations) {
  Outcome outcome;
  auto pool = rsp::new_runspace_pool({.min_runspaces = runspaces, .max_runspaces = runspaces});
  rsp::new_runspace_job(*pool, std::views::iota(std::size_t{0}, jobs),
                        [iterations](std::size_t) { return spin(iterations); });
  receive_sum<std::uint64_t>(*pool, outcome);
  pool.reset();
  std::uint64_t one = spin(iterations);
  expect(outcome, one * jobs, jobs, jobs);
  return outcome;
}

Outcome asio_cpu(std::size_t jobs, std::size_t threads, std::uint64_t iterations) {
  Outcome outcome;
  std::atomic<std::uint64_t> total{0};
  {
    boost::asio::thread_pool pool(threads);
    for (std::size_t i = 0; i < jobs; ++i) {
      boost::asio::post(pool, [&total, iterations] { total += spin(iterations); });
    }
    pool.join();
  }
  outcome.sum = total.load();
  outcome.jobs = outcome.items = jobs;
  expect(outcome, spin(iterations) * jobs, jobs, jobs);
  return outcome;
}

}  // namespace rsbench
