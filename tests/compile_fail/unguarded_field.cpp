// Must not compile under Clang's -Wthread-safety -Werror: a field guarded by a Mutex read
// without holding it. Shows that the analysis the library's Clang build relies on is live.
// With RSP_COMPILE_FAIL_CONTROL the field is read under its lock: that compiles.
#include "detail/mutex.hpp"

class Counter {
 public:
  int read() {
#ifdef RSP_COMPILE_FAIL_CONTROL
    rsp::detail::Lock lock(mutex_);
#endif
    return value_;
  }

 private:
  rsp::detail::Mutex mutex_;
  int value_ RSP_GUARDED_BY(mutex_) = 0;
};

int main() { return Counter().read(); }
