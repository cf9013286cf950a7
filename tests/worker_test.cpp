// rsp::run_as_worker as a program's first line: without the worker flag the program goes on as
// itself (the worker path itself runs in the worker-process tests, in processes of its own).
#include "rsparallel/worker.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(RunAsWorker, WithoutTheFlagTheProgramGoesOn) {
  std::string program = "app", other = "--verbose", near = "--rsparallel-workers";
  char* argv[] = {program.data(), other.data(), near.data(), nullptr};
  EXPECT_EQ(rsp::run_as_worker(3, argv), std::nullopt);
  EXPECT_EQ(rsp::run_as_worker(1, argv), std::nullopt);
}

}  // namespace
