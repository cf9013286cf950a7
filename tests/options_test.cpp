// rsparallel/options.hpp on its own: the defaults a caller gets from `{}` (the module's defaults,
// which the contract fixes), designated initializers in field order, and validate() naming the
// field that is wrong. Full range checks of every field are in bad_input_test.cpp.
#include "rsparallel/options.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;

template <class Options>
std::string rejection(const Options& options) {
  try {
    rsp::validate(options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Options, PoolDefaultsAreTheModules) {
  rsp::PoolOptions pool;
  EXPECT_EQ(pool.min_runspaces, 1u);
  EXPECT_EQ(pool.max_runspaces, 20u);
  EXPECT_EQ(pool.max_queue, 0u);  // 3 * max_runspaces, decided by the pool
  EXPECT_EQ(pool.idle_timeout, 60s);
  EXPECT_EQ(pool.stop_grace, 1s);
  EXPECT_EQ(pool.registry, nullptr);
  EXPECT_EQ(pool.isolation, rsp::Isolation::Thread);
  EXPECT_EQ(pool.max_jobs_per_runspace, 0u);
  EXPECT_TRUE(pool.session.variables.empty());
  EXPECT_FALSE(pool.session.open);
  EXPECT_EQ(rejection(pool), "");
}

TEST(Options, CallDefaultsRunEveryInputAsItsOwnJobWithoutLimits) {
  rsp::JobOptions job;
  EXPECT_EQ(job.timeout, 0ms);
  EXPECT_EQ(job.slice_size, 1u);
  EXPECT_EQ(job.max_running, 0u);
  EXPECT_EQ(rejection(job), "");

  rsp::ReceiveOptions receive;
  EXPECT_FALSE(receive.wait);
  EXPECT_FALSE(receive.keep);
  EXPECT_EQ(receive.timeout, 0ms);
  EXPECT_FALSE(receive.id.has_value());
  EXPECT_EQ(rejection(receive), "");

  rsp::ClearOptions clear;
  EXPECT_FALSE(clear.force);

  rsp::ParallelOptions parallel;
  EXPECT_FALSE(parallel.slice_size.has_value());  // the call's own default
  EXPECT_EQ(parallel.max_running, 0u);
  EXPECT_EQ(parallel.stop_grace, 1s);
  EXPECT_EQ(parallel.pool, nullptr);
  EXPECT_EQ(rejection(parallel), "");
}

TEST(Options, DesignatedInitializersFollowTheFieldOrder) {
  rsp::PoolOptions pool{.min_runspaces = 2,
                        .max_runspaces = 8,
                        .stop_grace = 250ms,
                        .isolation = rsp::Isolation::Process,
                        .max_jobs_per_runspace = 100};
  EXPECT_EQ(pool.max_runspaces, 8u);
  EXPECT_EQ(pool.isolation, rsp::Isolation::Process);
  EXPECT_EQ(pool.max_jobs_per_runspace, 100u);
  rsp::ReceiveResult result{.received = 3, .complete = true};
  std::size_t received = result;  // reads as the count
  EXPECT_EQ(received, 3u);
}

TEST(Options, ValidateNamesTheFieldThatIsWrong) {
  std::string too_few = rejection(rsp::PoolOptions{.min_runspaces = 5, .max_runspaces = 2});
  EXPECT_NE(too_few.find("PoolOptions::max_runspaces"), std::string::npos) << too_few;
  EXPECT_NE(too_few.find("min_runspaces (5)"), std::string::npos) << too_few;
  EXPECT_NE(rejection(rsp::PoolOptions{.stop_grace = -1ms}).find("PoolOptions::stop_grace"),
            std::string::npos);
  EXPECT_NE(
      rejection(rsp::PoolOptions{.isolation = static_cast<rsp::Isolation>(7)}).find("isolation"),
      std::string::npos);
  EXPECT_NE(rejection(rsp::JobOptions{.timeout = -5ms}).find("JobOptions::timeout"),
            std::string::npos);
  EXPECT_NE(rejection(rsp::ReceiveOptions{.timeout = -1ms}).find("ReceiveOptions::timeout"),
            std::string::npos);
  EXPECT_NE(rejection(rsp::ParallelOptions{.timeout = -1ms}).find("ParallelOptions::timeout"),
            std::string::npos);
}

}  // namespace
