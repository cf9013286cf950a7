#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <ranges>
#include <rsparallel/rsparallel.hpp>
#include <rsparallel/script.hpp>
#include <rsparallel/worker.hpp>
#include <thread>

namespace {

// A moment per job, so that both workers of a pool take some.
const auto worker_pid = rsp::register_script("test_main.pid", [](const int&) {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return static_cast<long>(::getpid());
});

// For ProcessPool.WorkersEndWhenTheCallerIsKilled: a caller that opens a process pool of two,
// writes its workers' pids to `path`, one per line, and waits to be killed.
int hold_a_pool(const char* path) {
  auto pool = rsp::new_runspace_pool(
      {.min_runspaces = 2, .max_runspaces = 2, .isolation = rsp::Isolation::Process});
  std::ofstream pids(path);
  // Enough jobs that both workers run some.
  for (long pid : rsp::outputs_as<long>(
           rsp::invoke_parallel(std::views::iota(0, 200), worker_pid, {.pool = pool}))) {
    pids << pid << '\n';
  }
  pids.close();
  std::ofstream(std::string(path) + ".done") << "ready\n";
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  // The process-runspace tests start this binary again as a worker process.
  if (auto code = rsp::run_as_worker(argc, argv)) return *code;
  if (const char* path = std::getenv("RSPARALLEL_TEST_HOLD_POOL")) return hold_a_pool(path);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
