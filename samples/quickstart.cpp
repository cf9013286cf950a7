// quickstart: the two first examples of the PowerShell module, in C++.
//
// Shows: rsp::invoke_parallel with one job per input (-SliceSize 1 -MaxRunning 10), and the
// `$args` form, where a job is handed a whole slice of inputs as a std::span, run with
// new_runspace_job and received with receive_runspace_job. Prints each as the table of jobs
// PowerShell would show.
//
//   ./quickstart
#include <boost/thread/thread.hpp>

#include <chrono>
#include <cstdio>
#include <numeric>
#include <ranges>
#include <span>
#include <string>
#include <vector>

#include <rsparallel/rsparallel.hpp>

using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<int>& values) {
  std::string text;
  for (int v : values) text += (text.empty() ? "" : ", ") + std::to_string(v);
  return text;
}

void print_table(const std::vector<rsp::ReceivedJob>& jobs) {
  std::printf("%-3s %-8s %-10s %s\n", "Id", "Name", "State", "Output");
  std::printf("%-3s %-8s %-10s %s\n", "--", "----", "-----", "------");
  for (const rsp::ReceivedJob& job : jobs) {
    std::printf("%-3llu %-8s %-10s %s\n", static_cast<unsigned long long>(job.id), job.name.c_str(),
                std::string(rsp::to_string(job.state)).c_str(),
                joined(job.output_as<int>()).c_str());
  }
}

}  // namespace

int main() {
  // PS> 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10 -ScriptBlock { Start-Sleep -m 200; $_ *
  // $_ }
  std::printf(
      "PS> 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10 "
      "-ScriptBlock { Start-Sleep -m 200; $_ * $_ }\n\n");
  auto start = std::chrono::steady_clock::now();
  std::vector<rsp::ReceivedJob> squares =
      rsp::invoke_parallel(std::views::iota(1, 11),
                           [](int i) {
                             boost::this_thread::sleep_for(
                                 boost::chrono::milliseconds(200));  // a timeout would interrupt it
                             return i * i;
                           },
                           {.name = "squares", .slice_size = 1, .max_running = 10});
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  print_table(squares);
  std::printf("\n10 jobs of 200 ms each, 10 running at once: %lld ms in all\n\n",
              static_cast<long long>(elapsed.count()));

  // PS> 1..10 | Invoke-Parallel -SliceSize 3 -ScriptBlock { ($args | Measure-Object -Sum).Sum }
  // The same with the separate cmdlets: New-RunspacePool, New-RunspaceJob, Receive-RunspaceJob.
  std::printf(
      "PS> $pool = New-RunspacePool -MaximumRunspaces 4\n"
      "PS> 1..10 | New-RunspaceJob -JobName sums -RunspacePool $pool -SliceSize 3 "
      "-ScriptBlock { ($args | Measure-Object -Sum).Sum }\n"
      "PS> Receive-RunspaceJob -Wait\n\n");
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  rsp::new_runspace_job(
      *pool, std::views::iota(1, 11),
      [](std::span<const int> args) { return std::accumulate(args.begin(), args.end(), 0); },
      {.name = "sums", .slice_size = 3});
  std::vector<rsp::ReceivedJob> sums = rsp::receive_runspace_job(*pool, {.wait = true});
  print_table(sums);
  std::printf("\nslices:");
  for (const rsp::ReceivedJob& job : sums) {
    std::printf(" [%zu..%zu]", job.input_index + 1, job.input_index + job.input_count);
  }
  std::printf("\n");
  return 0;
}
