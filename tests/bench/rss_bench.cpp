// Case 7: peak resident memory of a million inputs, each workload in a process of its own (this
// binary run again in its --rss-child mode), so that no case inherits another's heap.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {

namespace {

long vm_hwm_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int rss_child_main(const std::string& mode, std::size_t inputs) {
  using namespace std::chrono_literals;
  Outcome outcome;
  if (mode == "rsparallel") {
    outcome = rsparallel_stream(inputs, 0ms);
  } else if (mode == "eager") {
    outcome = eager_records(inputs);
  } else if (mode == "asio_futures") {
    outcome = asio_futures(inputs);
  } else if (mode != "none") {
    std::cerr << "unknown --rss-child mode '" << mode << "'\n";
    return 2;
  }
  if (!outcome.error.empty()) {
    std::cerr << mode << ": " << outcome.error << '\n';
    return 1;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::cout << usage.ru_maxrss << ' ' << vm_hwm_kib() << std::endl;
  return 0;
}

ChildRss run_rss_child(const std::string& mode, std::size_t inputs) {
  ChildRss result;
  // Everything the child needs is made before fork(): after it, only exec.
  std::string mode_arg = "--rss-child=" + mode;
  std::string inputs_arg = "--inputs=" + std::to_string(inputs);
  int out[2];
  if (pipe(out) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.error = std::string("fork: ") + std::strerror(errno);
    close(out[0]);
    close(out[1]);
    return result;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl("/proc/self/exe", "rsparallel_bench", mode_arg.c_str(), inputs_arg.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[256];
  for (;;) {
    ssize_t got = read(out[0], buffer, sizeof buffer);
    if (got > 0) {
      text.append(buffer, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    result.error = "the " + mode + " child failed (status " + std::to_string(status) + ")";
    return result;
  }
  std::istringstream fields(text);
  if (!(fields >> result.maxrss_kib >> result.hwm_kib)) {
    result.error = "the " + mode + " child printed '" + text + "'";
  }
  return result;
}

namespace {

class PeakRss : public benchmark::Fixture {
 protected:
  static void measure(benchmark::State& state, const std::string& mode, std::size_t inputs) {
    for (auto _ : state) {
      Clock::time_point start = Clock::now();
      ChildRss rss = run_rss_child(mode, inputs);
      state.SetIterationTime(elapsed_ns(start) / 1e9);
      if (!check(state, rss.error.empty(), rss.error)) break;
      // ru_maxrss of the child; VmHWM is the peak of its own image only (after exec), which
      // leaves out what the fork copied from this process, if that was ever larger.
      state.counters["peak_MiB"] = static_cast<double>(rss.maxrss_kib) / 1024.0;
      state.counters["hwm_MiB"] = static_cast<double>(rss.hwm_kib) / 1024.0;
      state.counters["inputs"] = static_cast<double>(inputs);
    }
  }
};

BENCHMARK_DEFINE_F(PeakRss, Rsparallel)(benchmark::State& state) {
  measure(state, "rsparallel", config().inputs);
}
BENCHMARK_DEFINE_F(PeakRss, EagerRecords)(benchmark::State& state) {
  measure(state, "eager", config().inputs);
}
BENCHMARK_DEFINE_F(PeakRss, AsioPackagedTask)(benchmark::State& state) {
  measure(state, "asio_futures", config().inputs);
}
BENCHMARK_DEFINE_F(PeakRss, EmptyProcess)(benchmark::State& state) {
  measure(state, "none", config().inputs);
}

// Registered first (rss_bench.cpp is linked first), so this process is still small when it
// forks: the children's ru_maxrss would otherwise start from the pages fork() copied.
BENCHMARK_REGISTER_F(PeakRss, EmptyProcess)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(PeakRss, Rsparallel)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(PeakRss, EagerRecords)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(PeakRss, AsioPackagedTask)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rsbench
