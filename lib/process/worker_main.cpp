// rsp::run_as_worker: recognising a worker process and preparing it before it serves.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string_view>
#include <vector>

#include "process/transport.hpp"
#include "process/worker_loop.hpp"
#include "process/worker_process.hpp"
#include "rsparallel/worker.hpp"

namespace rsp {

namespace {

struct WorkerFlag {
  int jobs = -1;
  int control = -1;
  pid_t parent = 0;
};

// "--rsparallel-worker=<jobs fd>,<control fd>:<parent pid>"; fields it lacks stay invalid.
std::optional<WorkerFlag> find_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with(process::kWorkerFlag)) continue;
    arg.remove_prefix(process::kWorkerFlag.size());
    WorkerFlag flag;
    const char* end = arg.data() + arg.size();
    auto [comma, error] = std::from_chars(arg.data(), end, flag.jobs);
    if (error != std::errc() || comma == end || *comma != ',') return WorkerFlag{};
    auto [colon, error2] = std::from_chars(comma + 1, end, flag.control);
    if (error2 != std::errc() || colon == end || *colon != ':') return WorkerFlag{};
    std::from_chars(colon + 1, end, flag.parent);
    return flag;
  }
  return std::nullopt;
}

// Whatever the pool's process had open (its files, sockets, other workers' channels) is not
// the worker's: a worker holding another's channel would keep it from seeing its end.
void close_inherited(int first_kept, int second_kept) {
  auto close_from_to = [](int first, int last) {
    if (first > last) return true;
    return ::syscall(SYS_close_range, static_cast<unsigned>(first), static_cast<unsigned>(last),
                     0) == 0;
  };
  int low = std::min(first_kept, second_kept);
  int high = std::max(first_kept, second_kept);
  if (close_from_to(3, low - 1) && close_from_to(low + 1, high - 1) &&
      close_from_to(high + 1, std::numeric_limits<int>::max())) {
    return;
  }
  // No close_range (Linux < 5.9): close what /proc lists.
  std::vector<int> open;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    int fd = -1;
    std::string name = entry.path().filename();
    std::from_chars(name.data(), name.data() + name.size(), fd);
    if (fd > 2 && fd != low && fd != high) open.push_back(fd);
  }
  for (int fd : open) ::close(fd);  // includes the directory's own, now closed: harmless
}

}  // namespace

std::optional<int> run_as_worker(int argc, char** argv) {
  std::optional<WorkerFlag> flag = find_flag(argc, argv);
  if (!flag) return std::nullopt;
  if (flag->jobs < 3 || flag->control < 3 || flag->jobs == flag->control || flag->parent <= 0) {
    std::cerr << "rsp worker: malformed " << process::kWorkerFlag << " flag" << std::endl;
    return 2;
  }
  close_inherited(flag->jobs, flag->control);
  // A script that starts programs keeps the channels to itself.
  ::fcntl(flag->jobs, F_SETFD, FD_CLOEXEC);
  ::fcntl(flag->control, F_SETFD, FD_CLOEXEC);
  // Die with the pool; and if it died before this line, there is no one to serve.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != flag->parent) return 1;
  process::SocketTransport jobs(flag->jobs);
  process::SocketTransport control(flag->control);
  process::WorkerLoop loop(jobs, control);
  return loop.run();
}

}  // namespace rsp
