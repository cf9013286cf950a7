// Test scaffolding shared by every test file: a time scale for slow builds, a gate jobs wait
// at, a bounded poll, and what /proc says of processes. Nothing here is part of the library.
#pragma once

#include <unistd.h>
#include <atomic>
#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>

namespace rsp_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A sanitizer build runs several times slower, and CI runs two tests at once on two cores, so
// every time a test allows for work to happen (a timeout a quick job must beat, a bound a
// stop must return within) is multiplied by this. Times a test waits on purpose (a job that
// must outlast its timeout) are scaled too, so their ratio to the bounds stays the same.
#ifndef RSPARALLEL_TEST_TIME_SCALE
#define RSPARALLEL_TEST_TIME_SCALE 1
#endif
inline constexpr int kTimeScale = RSPARALLEL_TEST_TIME_SCALE;

template <class Rep, class Period>
constexpr std::chrono::duration<Rep, Period> scaled(std::chrono::duration<Rep, Period> time) {
  return time * kTimeScale;
}

// Jobs wait here until the test opens it. The wait is a Boost condition wait, so a Boost
// interrupt (a timeout or stop) wakes it with boost::thread_interrupted; the stop_token form
// also returns when that token is stopped.
class Gate {
 public:
  void open() {
    {
      boost::lock_guard<boost::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

  void wait() {
    boost::unique_lock<boost::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }

  // True once opened; false when `limit` (scaled) passes first.
  bool wait_for(std::chrono::milliseconds limit) {
    boost::unique_lock<boost::mutex> lock(mutex_);
    return cv_.wait_for(lock, boost::chrono::milliseconds(scaled(limit).count()),
                        [&] { return open_; });
  }

  // True once opened; false when `stop` is requested or `limit` (scaled) passes first.
  bool wait(std::stop_token stop, std::chrono::milliseconds limit = 5s) {
    std::stop_callback wake(stop, [this] {
      boost::lock_guard<boost::mutex> lock(mutex_);
      cv_.notify_all();
    });
    boost::unique_lock<boost::mutex> lock(mutex_);
    return cv_.wait_for(lock, boost::chrono::milliseconds(scaled(limit).count()), [&] {
      return open_ || stop.stop_requested();
    }) && open_;
  }

 private:
  boost::mutex mutex_;
  boost::condition_variable cv_;
  bool open_ = false;
};

// Opens a gate when a test leaves its scope, so a failed assertion never leaves jobs waiting.
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.open(); }
};

// Work deaf to both the stop and the Boost interrupt (std sleeps, no JobContext) that must
// outlast stop_grace waits here until the test releases it, so it is abandoned however late
// the stop comes. Copies share the flag, so an abandoned job never refers to the test's stack;
// `cap` (scaled) only keeps a failing test from leaving the thread behind for ever.
class DeafUntilReleased {
 public:
  void wait(std::chrono::milliseconds cap = 30s) const {
    auto until = Clock::now() + scaled(cap);
    while (!released_->load() && Clock::now() < until) std::this_thread::sleep_for(1ms);
  }
  void release() const { released_->store(true); }

 private:
  std::shared_ptr<std::atomic<bool>> released_ = std::make_shared<std::atomic<bool>>(false);
};

// Releases a DeafUntilReleased when the test leaves its scope, however it leaves.
struct ReleaseOnExit {
  const DeafUntilReleased& deaf;
  ~ReleaseOnExit() { deaf.release(); }
};

// Polls `done` every 2 ms; false when `limit` (scaled) passes first.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 5s) {
  auto deadline = Clock::now() + scaled(limit);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// The state and parent of a process, from /proc/<pid>/stat; nullopt-like state '\0' once gone.
struct ProcessStat {
  char state = '\0';  // 'R', 'S', 'Z' (exited, not reaped), ...
  long parent = 0;
};

inline ProcessStat process_stat(const std::filesystem::path& proc_dir) {
  std::ifstream stat(proc_dir / "stat");
  std::string line;
  if (!std::getline(stat, line)) return {};
  auto name_end = line.rfind(')');  // the name may hold spaces and parentheses
  if (name_end == std::string::npos) return {};
  std::istringstream rest(line.substr(name_end + 1));
  ProcessStat result;
  rest >> result.state >> result.parent;
  return result;
}

// Whether process `pid` still runs (exists and is not a zombie).
inline bool running(long pid) {
  char state = process_stat("/proc/" + std::to_string(pid)).state;
  return state != '\0' && state != 'Z' && state != 'X';
}

// This process's children: those alive, and those exited and not reaped.
struct Children {
  int live = 0;
  int zombies = 0;
};

inline Children children() {
  Children found;
  const long me = ::getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    ProcessStat stat = process_stat(entry.path());
    if (stat.parent != me) continue;
    if (stat.state == 'Z' || stat.state == 'X') {
      ++found.zombies;
    } else if (stat.state != '\0') {
      ++found.live;
    }
  }
  return found;
}

}  // namespace rsp_test
