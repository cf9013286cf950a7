// A program outside the rsparallel tree: runs jobs through the four calls and checks the
// results. Exits non-zero, naming the check, on any wrong result.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <ranges>
#include <span>
#include <string>
#include <vector>

#include <boost/thread/thread.hpp>
#include <rsparallel/rsparallel.hpp>
#include <rsparallel_user/squares.hpp>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << '\n';
    ++failures;
  }
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  check(std::string(rsp::version) == std::to_string(RSPARALLEL_VERSION_MAJOR) + "." +
                                         std::to_string(RSPARALLEL_VERSION_MINOR) + "." +
                                         std::to_string(RSPARALLEL_VERSION_PATCH),
        "rsp::version matches the version macros");

  // New-RunspacePool, New-RunspaceJob, Receive-RunspaceJob.
  rsp::PoolOptions options{.max_runspaces = 2};
  options.session.variables["offset"] = 1000;
  auto pool = rsp::new_runspace_pool(options);
  rsp::JobBatch squares =
      rsp::new_runspace_job(*pool, std::views::iota(1, 21),
                            [](int i, rsp::JobContext& ctx) {
                              if (i % 5 == 0)
                                ctx.write_warning("multiple of five: " + std::to_string(i));
                              return i * i + ctx.runspace().variable<int>("offset");
                            },
                            {.name = "squares"});
  auto jobs = rsp::receive_runspace_job(*pool, {.name = "squares", .wait = true, .timeout = 60s});
  check(squares.done(), "the batch is done after receiving with wait");
  check(jobs.size() == 20, "20 jobs received, got " + std::to_string(jobs.size()));
  std::size_t warned = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    int input = static_cast<int>(i) + 1;
    check(jobs[i].state == rsp::JobState::Completed,
          "job " + std::to_string(i) + " is " + std::string(rsp::to_string(jobs[i].state)));
    check(jobs[i].input_index == i, "input index of job " + std::to_string(i));
    check(jobs[i].output_as<int>() == std::vector<int>{input * input + 1000},
          "output of job " + std::to_string(i));
    warned += jobs[i].warnings.size();
  }
  check(warned == 4, "four warnings written");

  // A timeout interrupts a Boost sleep: Boost.Thread comes with the package.
  rsp::new_runspace_job(*pool, std::vector<int>{1},
                        [](int) { boost::this_thread::sleep_for(boost::chrono::seconds(30)); },
                        {.name = "slow", .timeout = 50ms});
  auto slow = rsp::receive_runspace_job(*pool, {.name = "slow", .wait = true, .timeout = 20s});
  check(slow.size() == 1 && slow[0].state == rsp::JobState::TimedOut, "the slow job timed out");
  check(slow.size() == 1 && slow[0].errors.size() == 1 &&
            slow[0].errors[0].message == "timed out after 50 ms",
        "the timed-out job says so");

  // Clear-RunspaceJobs: kept jobs stay until cleared.
  rsp::JobBatch kept =
      rsp::new_runspace_job(*pool, {1, 2, 3}, [](int i) { return -i; }, {.name = "kept"});
  check(kept.wait_for(60s), "the kept batch finished");
  auto looked = rsp::receive_runspace_job(*pool, {.name = "kept", .keep = true});
  check(looked.size() == 3, "three kept jobs seen");
  check(pool->registry().size() == 3, "kept jobs still held");
  check(rsp::clear_runspace_jobs(*pool, {.name = "kept"}) == 3, "three jobs cleared");
  check(pool->registry().size() == 0, "nothing held after clearing");

  // Invoke-Parallel, with slices.
  auto sums = rsp::invoke_parallel(
      std::vector<int>{1, 2, 3, 4, 5, 6, 7},
      [](std::span<const int> slice) { return std::accumulate(slice.begin(), slice.end(), 0); },
      {.slice_size = 3, .max_running = 2});
  check(rsp::outputs_as<int>(sums) == std::vector<int>{6, 15, 7}, "invoke_parallel slice sums");

  // The project's own library on rsparallel (installed and exported by this project too).
  check(rsparallel_user::squares(5, 2) == std::vector<long long>{1, 4, 9, 16, 25},
        "the user library's squares");

  if (failures != 0) {
    std::cerr << failures << " check(s) failed\n";
    return EXIT_FAILURE;
  }
  std::cout << "rsparallel " << rsp::version << " consumer: all checks passed\n";
  return EXIT_SUCCESS;
}
