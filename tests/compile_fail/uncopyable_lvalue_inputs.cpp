// Must not compile: an lvalue range of move-only inputs (each job would need a copy). Built by
// tests/compile_fail.cmake, which checks that the compiler stops with new_runspace_job's
// static_assert. With RSP_COMPILE_FAIL_CONTROL the range is passed as an rvalue: that compiles.
#include <memory>
#include <utility>
#include <vector>

#include <rsparallel/runspace_job.hpp>

void submit(rsp::RunspacePool& pool) {
  std::vector<std::unique_ptr<int>> inputs;
#ifdef RSP_COMPILE_FAIL_CONTROL
  rsp::new_runspace_job(pool, std::move(inputs), [](const std::unique_ptr<int>& p) { return *p; });
#else
  rsp::new_runspace_job(pool, inputs, [](const std::unique_ptr<int>& p) { return *p; });
#endif
}
