#include <gtest/gtest.h>

#include <rsparallel/worker.hpp>

int main(int argc, char** argv) {
  // The process-runspace tests start this binary again as a worker process.
  if (auto code = rsp::run_as_worker(argc, argv)) return *code;
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
