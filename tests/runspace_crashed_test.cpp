// rsp::RunspaceCrashed: what code catching the standard errors, or matching on the error
// record's type name, relies on.
#include "rsparallel/runspace_crashed.hpp"

#include <gtest/gtest.h>

#include <exception>

#include "rsparallel/job.hpp"

namespace {

TEST(RunspaceCrashed, IsARuntimeErrorNamingHowTheWorkerEnded) {
  std::exception_ptr error =
      std::make_exception_ptr(rsp::RunspaceCrashed("killed by signal 11 (SIGSEGV)"));
  try {
    std::rethrow_exception(error);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "killed by signal 11 (SIGSEGV)");
    EXPECT_EQ(rsp::type_name(typeid(e)), "rsp::RunspaceCrashed");
  }
}

}  // namespace
