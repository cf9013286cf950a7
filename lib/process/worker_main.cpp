// rsp::run_as_worker: recognising a worker process and preparing it before it serves.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <vector>

#include "process/transport.hpp"
#include "process/worker_loop.hpp"
#include "process/worker_process.hpp"
#include "rsparallel/worker.hpp"

namespace rsp {

namespace {

struct WorkerFlag {
  int fd = -1;
  pid_t parent = 0;
};

// "--rsparallel-worker=<fd>:<parent pid>"
std::optional<WorkerFlag> find_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with(process::kWorkerFlag)) continue;
    arg.remove_prefix(process::kWorkerFlag.size());
    WorkerFlag flag;
    auto [colon, error] = std::from_chars(arg.data(), arg.data() + arg.size(), flag.fd);
    if (error != std::errc() || colon == arg.data() + arg.size() || *colon != ':') return flag;
    std::from_chars(colon + 1, arg.data() + arg.size(), flag.parent);
    return flag;
  }
  return std::nullopt;
}

// Whatever the pool's process had open (its files, sockets, other workers' channels) is not
// the worker's: a worker holding another's channel would keep it from seeing its end.
void close_inherited(int keep) {
  auto close_from_to = [](unsigned first, unsigned last) {
    if (first > last) return true;
    return ::syscall(SYS_close_range, first, last, 0) == 0;
  };
  if (close_from_to(3, static_cast<unsigned>(keep) - 1) &&
      close_from_to(static_cast<unsigned>(keep) + 1, ~0U)) {
    return;
  }
  // No close_range (Linux < 5.9): close what /proc lists.
  std::vector<int> open;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    int fd = -1;
    std::string name = entry.path().filename();
    std::from_chars(name.data(), name.data() + name.size(), fd);
    if (fd > 2 && fd != keep) open.push_back(fd);
  }
  for (int fd : open) ::close(fd);  // includes the directory's own, now closed: harmless
}

}  // namespace

std::optional<int> run_as_worker(int argc, char** argv) {
  std::optional<WorkerFlag> flag = find_flag(argc, argv);
  if (!flag) return std::nullopt;
  if (flag->fd < 3 || flag->parent <= 0) {
    std::cerr << "rsp worker: malformed " << process::kWorkerFlag << " flag" << std::endl;
    return 2;
  }
  close_inherited(flag->fd);
  ::fcntl(flag->fd, F_SETFD, FD_CLOEXEC);  // a script that starts programs keeps it to itself
  // Die with the pool; and if it died before this line, there is no one to serve.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != flag->parent) return 1;
  process::SocketTransport transport(flag->fd);
  process::WorkerLoop loop(transport);
  return loop.run();
}

}  // namespace rsp
