// Case 7: peak resident memory of a million inputs, each workload in a process of its own (this
// binary run again in its --rss-child mode), so that no case inherits another's heap.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
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
  } else if (mode == "parallel_map") {
    outcome = rsparallel_parallel_map(inputs);
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

namespace {

// fork() and exec() the child here, in the calling process.
ChildRss spawn_rss_child(const std::string& mode, std::size_t inputs) {
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

// The launcher: a process forked at start-up, while this one is still small, that spawns every
// child on request. A child's ru_maxrss starts from what fork() copied, so children forked from
// this process later, after other cases grew its heap (and in a random interleaving any case
// may come first), would report this process's peak rather than their own.
struct Launcher {
  int request = -1;       // write "<mode> <inputs>\n"
  FILE* reply = nullptr;  // read "<ru_maxrss> <VmHWM>\n" or "error <text>\n"
  pid_t pid = -1;
};

Launcher& launcher() {
  static Launcher instance;
  return instance;
}

[[noreturn]] void launcher_loop(int request_fd, int reply_fd) {
  FILE* requests = fdopen(request_fd, "r");
  char mode[64];
  std::size_t inputs = 0;
  while (requests != nullptr && std::fscanf(requests, "%63s %zu", mode, &inputs) == 2) {
    ChildRss rss = spawn_rss_child(mode, inputs);
    std::replace(rss.error.begin(), rss.error.end(), '\n', ' ');  // one reply, one line
    if (rss.error.size() > 400) rss.error.resize(400);
    std::string line = rss.error.empty() ? std::to_string(rss.maxrss_kib) + ' ' +
                                               std::to_string(rss.hwm_kib) + '\n'
                                         : "error " + rss.error + '\n';
    for (std::size_t sent = 0; sent < line.size();) {
      ssize_t wrote = write(reply_fd, line.data() + sent, line.size() - sent);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) _exit(1);
      sent += static_cast<std::size_t>(wrote);
    }
  }
  _exit(0);
}

}  // namespace

void start_rss_launcher() {
  Launcher& self = launcher();
  int request[2];
  int reply[2];
  // Close-on-exec: the children the launcher spawns must not hold its pipes open.
  if (self.pid >= 0 || pipe2(request, O_CLOEXEC) != 0) return;
  if (pipe2(reply, O_CLOEXEC) != 0) {
    close(request[0]);
    close(request[1]);
    return;
  }
  std::cout.flush();
  pid_t pid = fork();
  if (pid == 0) {
    close(request[1]);
    close(reply[0]);
    launcher_loop(request[0], reply[1]);
  }
  close(request[0]);
  close(reply[1]);
  if (pid < 0) {  // no launcher: children are forked from this process
    close(request[1]);
    close(reply[0]);
    return;
  }
  // A launcher that died must show as an error of the case, not end this process.
  std::signal(SIGPIPE, SIG_IGN);
  self = Launcher{request[1], fdopen(reply[0], "r"), pid};
}

void stop_rss_launcher() {
  Launcher& self = launcher();
  if (self.pid < 0) return;
  close(self.request);  // end of requests: the launcher exits
  if (self.reply != nullptr) std::fclose(self.reply);
  while (waitpid(self.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  self = Launcher{};
}

ChildRss run_rss_child(const std::string& mode, std::size_t inputs) {
  Launcher& self = launcher();
  if (self.pid < 0 || self.reply == nullptr) return spawn_rss_child(mode, inputs);
  ChildRss result;
  std::string request = mode + ' ' + std::to_string(inputs) + '\n';
  if (write(self.request, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    result.error = std::string("writing to the launcher: ") + std::strerror(errno);
    return result;
  }
  char line[512];
  if (std::fgets(line, sizeof line, self.reply) == nullptr) {
    result.error = "the launcher process ended";
    return result;
  }
  std::string text(line);
  if (text.rfind("error ", 0) == 0) {
    result.error = text.substr(6, text.find_last_not_of('\n') - 5);
    return result;
  }
  std::istringstream fields(text);
  if (!(fields >> result.maxrss_kib >> result.hwm_kib)) {
    result.error = "the launcher answered '" + text + "'";
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
BENCHMARK_DEFINE_F(PeakRss, ParallelMap)(benchmark::State& state) {
  measure(state, "parallel_map", config().inputs);
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

// The children are spawned by the launcher (start_rss_launcher), forked before any case ran.
BENCHMARK_REGISTER_F(PeakRss, EmptyProcess)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(PeakRss, Rsparallel)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_REGISTER_F(PeakRss, ParallelMap)
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
