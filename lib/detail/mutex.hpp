// A mutex and its locks that Clang's thread-safety analysis (-Wthread-safety) follows: fields
// say which mutex guards them (RSP_GUARDED_BY), functions which they need (RSP_REQUIRES), and a
// Clang build checks every access. Other compilers see plain std::mutex and std::unique_lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define RSP_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RSP_THREAD_ANNOTATION(x)
#endif

#define RSP_CAPABILITY(x) RSP_THREAD_ANNOTATION(capability(x))
#define RSP_SCOPED_CAPABILITY RSP_THREAD_ANNOTATION(scoped_lockable)
#define RSP_GUARDED_BY(x) RSP_THREAD_ANNOTATION(guarded_by(x))
#define RSP_REQUIRES(...) RSP_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define RSP_ACQUIRE(...) RSP_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RSP_RELEASE(...) RSP_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RSP_TRY_ACQUIRE(...) RSP_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define RSP_EXCLUDES(...) RSP_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define RSP_ACQUIRED_AFTER(...) RSP_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define RSP_NO_THREAD_SAFETY_ANALYSIS RSP_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace rsp::detail {

/// std::mutex as a capability the analysis knows.
class RSP_CAPABILITY("mutex") Mutex {
 public:
  void lock() RSP_ACQUIRE() { mutex_.lock(); }
  void unlock() RSP_RELEASE() { mutex_.unlock(); }
  bool try_lock() RSP_TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  friend class Lock;
  std::mutex mutex_;
};

/// A scoped lock on a Mutex, like std::unique_lock: it may be let go of and taken again, and
/// condition-variable waits go through it. To the analysis a wait keeps the mutex held (it is
/// held again when the wait returns), so a wait's predicate is annotated RSP_REQUIRES too.
class RSP_SCOPED_CAPABILITY Lock {
 public:
  explicit Lock(Mutex& mutex) RSP_ACQUIRE(mutex) : lock_(mutex.mutex_) {}
  /// Takes over a mutex the caller locked (after a successful try_lock()).
  Lock(Mutex& mutex, std::adopt_lock_t) RSP_REQUIRES(mutex)
      : lock_(mutex.mutex_, std::adopt_lock) {}
  ~Lock() RSP_RELEASE() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void lock() RSP_ACQUIRE() { lock_.lock(); }
  void unlock() RSP_RELEASE() { lock_.unlock(); }

  void wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <class Predicate>
  void wait(std::condition_variable& cv, Predicate predicate) {
    cv.wait(lock_, std::move(predicate));
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(std::condition_variable& cv,
                            const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline);
  }
  template <class Clock, class Duration, class Predicate>
  bool wait_until(std::condition_variable& cv,
                  const std::chrono::time_point<Clock, Duration>& deadline, Predicate predicate) {
    return cv.wait_until(lock_, deadline, std::move(predicate));
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace rsp::detail
