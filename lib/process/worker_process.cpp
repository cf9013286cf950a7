#include "process/worker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

extern char** environ;

namespace rsp::process {

namespace {

[[noreturn]] void throw_system(int error, const char* what) {
  throw std::system_error(error, std::system_category(), std::string("rsp: ") + what);
}

// Runs work on one thread that never ends, so that the parent thread of every worker outlives
// it (PR_SET_PDEATHSIG fires when the thread that spawned the worker ends, not the process).
// Leaked on purpose: it must outlive static destruction, when pools may still be closing.
class SpawnThread {
 public:
  static SpawnThread& instance() {
    static SpawnThread* spawner = new SpawnThread;
    return *spawner;
  }

  void run(const std::function<void()>& work) {
    bool done = false;
    std::exception_ptr error;
    detail::Lock lock(mutex_);
    queue_.push_back(Request{&work, &error, &done});
    wake_.notify_all();
    lock.wait(finished_, [&] { return done; });
    if (error) std::rethrow_exception(error);
  }

 private:
  struct Request {
    const std::function<void()>* work;
    std::exception_ptr* error;
    bool* done;  // set under mutex_ once the work ran
  };

  SpawnThread() {
    std::thread([this] { serve(); }).detach();
  }

  void serve() {
    detail::Lock lock(mutex_);
    for (;;) {
      lock.wait(wake_, [&]() RSP_REQUIRES(mutex_) { return !queue_.empty(); });
      Request request = queue_.front();
      queue_.pop_front();
      lock.unlock();
      try {
        (*request.work)();
      } catch (...) {
        *request.error = std::current_exception();
      }
      lock.lock();
      *request.done = true;
      finished_.notify_all();
    }
  }

  // Lock order: a leaf (the work runs without it).
  detail::Mutex mutex_;
  std::condition_variable wake_, finished_;
  std::deque<Request> queue_ RSP_GUARDED_BY(mutex_);
};

struct SpawnResources {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnResources() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnResources() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
};

// The child's ends, moved to the worker's fixed descriptors in the child only.
pid_t spawn_worker(const WorkerChannels& child) {
  SpawnResources spawn;
  int error = posix_spawn_file_actions_adddup2(&spawn.actions, child.jobs, kWorkerJobsFd);
  if (error == 0) {
    error = posix_spawn_file_actions_adddup2(&spawn.actions, child.control, kWorkerControlFd);
  }
  if (error == 0) {
    // The worker reads no input of the pool's: a shared stdin (rsp::lines(std::cin)) stays whole.
    error = posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  sigset_t none;
  sigemptyset(&none);
  if (error == 0) error = posix_spawnattr_setsigmask(&spawn.attributes, &none);
  if (error == 0) error = posix_spawnattr_setflags(&spawn.attributes, POSIX_SPAWN_SETSIGMASK);
  if (error != 0) throw_system(error, "preparing a worker process");

  std::string flag = std::string(kWorkerFlag) + std::to_string(kWorkerJobsFd) + "," +
                     std::to_string(kWorkerControlFd) + ":" + std::to_string(::getpid());
  std::string name = "rsparallel-worker";
  char* argv[] = {name.data(), flag.data(), nullptr};
  pid_t pid = -1;
  error = posix_spawn(&pid, "/proc/self/exe", &spawn.actions, &spawn.attributes, argv, environ);
  if (error != 0) throw_system(error, "starting a worker process (posix_spawn /proc/self/exe)");
  return pid;
}

// A connected pair: the pool's end, and the child's end above the worker's fixed numbers (dup2
// onto a descriptor's own number would keep close-on-exec on some libcs). Both close-on-exec.
std::pair<int, int> channel_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_system(errno, "creating a worker channel (socketpair)");
  }
  int child_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, kWorkerControlFd + 1);
  int saved = errno;
  ::close(fds[1]);
  if (child_end < 0) {
    ::close(fds[0]);
    throw_system(saved, "creating a worker channel (fcntl)");
  }
  return {fds[0], child_end};
}

void close_channels(WorkerChannels& channels) noexcept {
  if (channels.jobs >= 0) ::close(std::exchange(channels.jobs, -1));
  if (channels.control >= 0) ::close(std::exchange(channels.control, -1));
}

}  // namespace

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int signal = WTERMSIG(status);
    const char* abbreviation = sigabbrev_np(signal);
    return "killed by signal " + std::to_string(signal) +
           (abbreviation != nullptr ? std::string(" (SIG") + abbreviation + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(status);
}

WorkerProcess::WorkerProcess() {
  WorkerChannels child;
  try {
    std::tie(channels_.jobs, child.jobs) = channel_pair();
    std::tie(channels_.control, child.control) = channel_pair();
    SpawnThread::instance().run([&] { pid_ = spawn_worker(child); });
  } catch (...) {
    close_channels(channels_);
    close_channels(child);
    throw;
  }
  close_channels(child);
}

WorkerProcess::~WorkerProcess() {
  close_channels(channels_);
  kill();
  wait();
}

WorkerChannels WorkerProcess::release_channels() noexcept { return std::exchange(channels_, {}); }

void WorkerProcess::kill() noexcept {
  detail::Lock lock(mutex_);
  if (!reaped_) ::kill(pid_, SIGKILL);
}

bool WorkerProcess::reap_locked(bool block) {
  if (reaped_) return true;
  int status = 0;
  pid_t result;
  do {
    result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result == 0) return false;
  reaped_ = true;
  description_ = result == pid_
                     ? describe_wait_status(status)
                     : "was reaped elsewhere (" + std::string(std::strerror(errno)) + ")";
  return true;
}

std::string WorkerProcess::wait() {
  // Wait without reaping and without the lock, so that kill() stays possible meanwhile and
  // never signals a pid that was reaped and reused.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  detail::Lock lock(mutex_);
  reap_locked(true);
  return description_;
}

std::optional<std::string> WorkerProcess::try_wait() {
  detail::Lock lock(mutex_);
  if (!reap_locked(false)) return std::nullopt;
  return description_;
}

std::optional<std::string> WorkerProcess::wait_for(std::chrono::milliseconds limit) {
  // No wait with a timeout exists for a child: poll, finely, since a killed process ends within
  // a millisecond or two and a caller (abandoning a runspace) may hold a lock meanwhile.
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (auto description = try_wait()) return description;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::string WorkerProcess::wait_or_kill(std::chrono::milliseconds limit) {
  if (auto description = wait_for(limit)) return *description;
  kill();
  return wait();
}

}  // namespace rsp::process
