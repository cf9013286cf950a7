#include "run/child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

extern char** environ;

namespace samples {

namespace {

using Clock = std::chrono::steady_clock;

// Process groups of running children, for the signal handler: lock-free slots, since a handler
// may only touch async-signal-safe state.
std::array<std::atomic<pid_t>, 1024> g_children{};

void track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }  // full: this child is not forwarded signals
}

void untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void forward_and_die(int sig) {
  for (auto& slot : g_children) {
    if (pid_t pid = slot.load(); pid > 0) ::kill(-pid, sig);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

/// Closes its fds, and kills and reaps the child if something threw before it was reaped.
struct ChildGuard {
  pid_t pid = -1;
  int fds[2] = {-1, -1};

  ~ChildGuard() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    if (pid > 0) {
      untrack(pid);
      ::kill(-pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
};

struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;

  SpawnSetup(int out, int err) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, so a timeout kills its children too
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

ChildResult run_child(std::span<const std::string> argv, std::stop_token stop,
                      std::chrono::milliseconds grace) {
  ChildGuard child;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_errno(errno, "pipe");
  child.fds[0] = out[0];
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(out[1]);
    throw_errno(error, "pipe");
  }
  child.fds[1] = err[0];

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int spawn_error;
  {
    SpawnSetup setup(out[1], err[1]);
    spawn_error =
        ::posix_spawnp(&child.pid, args[0], &setup.actions, &setup.attr, args.data(), environ);
  }
  ::close(out[1]);  // the child has its copies; EOF comes when it (and its children) close them
  ::close(err[1]);
  if (spawn_error != 0) {
    child.pid = -1;
    throw_errno(spawn_error, "cannot run '" + argv[0] + "'");
  }
  track(child.pid);

  ChildResult result;
  std::string* sinks[2] = {&result.out, &result.err};
  bool term_sent = false, kill_sent = false, exited = false;
  Clock::time_point kill_at{};
  std::array<char, 65536> buffer;
  for (;;) {
    if (!term_sent && stop.stop_requested()) {
      ::kill(-child.pid, SIGTERM);
      term_sent = true;
      kill_at = Clock::now() + grace;
    }
    if (term_sent && !kill_sent && Clock::now() >= kill_at) {
      ::kill(-child.pid, SIGKILL);
      kill_sent = true;
    }
    pollfd fds[2] = {{child.fds[0], POLLIN, 0}, {child.fds[1], POLLIN, 0}};  // -1 is skipped
    bool reading = child.fds[0] >= 0 || child.fds[1] >= 0;
    if (reading) {
      int ready = ::poll(fds, 2, 20);  // short, so that a stop is noticed quickly
      if (ready < 0 && errno != EINTR) throw_errno(errno, "poll");
      for (int i = 0; i < 2 && ready > 0; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = ::read(child.fds[i], buffer.data(), buffer.size());
        if (n > 0) {
          sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(child.fds[i]);
          child.fds[i] = -1;
        }
      }
    }
    if (!exited) {
      siginfo_t info{};
      // WNOWAIT: look without reaping, so the pid stays ours until it is untracked.
      if (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == child.pid) {
        exited = true;
      }
    }
    // Done once it exited and its output ended; a stopped child's lingering descendants (which
    // left its group) may keep the pipes open, so do not wait for them.
    if (exited && (!reading || term_sent)) break;
    if (!reading) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  untrack(child.pid);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  child.pid = -1;
  result.status = status;
  return result;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? " (" + std::string(name) + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

std::string quote_command(std::span<const std::string> argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    bool plain = !arg.empty() && arg.find_first_not_of(
                                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_./=:,+%@") == std::string::npos;
    if (plain) {
      text += arg;
      continue;
    }
    text += '\'';
    for (char c : arg) {
      if (c == '\'') {
        text += "'\\''";
      } else {
        text += c;
      }
    }
    text += '\'';
  }
  return text;
}

void forward_termination_signals() {
  struct sigaction action {};
  action.sa_handler = forward_and_die;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
}

}  // namespace samples
