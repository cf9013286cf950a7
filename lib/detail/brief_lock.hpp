// For locks the runspaces take once per job and hold briefly: a contended one is usually free
// again within a microsecond, far sooner than a sleep in the kernel and the wake-up after it.
// Measured (tests/bench/README.md): without the spin, case 1 takes 22-24 % longer.
#pragma once

#include "detail/mutex.hpp"

namespace rsp::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Tries the mutex for a moment before it blocks on it; a Lock then adopts it.
inline void lock_briefly(Mutex& mutex) RSP_ACQUIRE(mutex) {
  constexpr int kTries = 64;
  for (int i = 0; i < kTries; ++i) {
    if (mutex.try_lock()) return;
    cpu_relax();
  }
  mutex.lock();
}

}  // namespace rsp::detail
