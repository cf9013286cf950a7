// Scenarios at the edges of a batch's and a pool's life: stopping while an input is being read,
// jobs held back by max_running, a streaming receiver's backpressure, abandoned runspaces closing,
// and pools dropped with jobs never received.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/thread/thread.hpp>
#include <filesystem>
#include <memory>
#include <ranges>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "detail/access.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::DeafUntilReleased;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::OpenOnExit;
using rsp_test::ReleaseOnExit;
using rsp_test::scaled;

namespace {

// An input range whose reads are slow, like a pipe; it records whether a read is under way.
struct SlowRange {
  std::vector<int>* data;
  std::atomic<bool>* reading;
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    std::vector<int>* data = nullptr;
    std::atomic<bool>* reading = nullptr;
    std::size_t i = 0;
    int operator*() const {
      reading->store(true);
      std::this_thread::sleep_for(300ms);
      int value = (*data)[i];
      reading->store(false);
      return value;
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(const iterator& other) const { return i == other.i; }
  };
  iterator begin() const { return {data, reading, 0}; }
  iterator end() const { return {data, reading, data->size()}; }
};

std::size_t thread_count() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

}  // namespace

// A stopped batch whose range is in the middle of a read is not done until the read returns, so
// a caller that frees the range once wait() returns never frees it under the reader.
TEST(Lifecycle, StoppedBatchIsNotDoneWhileItsRangeIsBeingRead) {
  for (bool close_pool : {false, true}) {
    auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
    auto data = std::make_unique<std::vector<int>>(100, 7);
    std::atomic<bool> reading{false};
    SlowRange range{data.get(), &reading};
    auto batch = rsp::new_runspace_job(*pool, range, [](int x) { return x; });
    ASSERT_TRUE(eventually([&] { return batch.created() >= 1 && reading.load(); }));
    if (close_pool) {
      pool->close();
    } else {
      batch.stop();
    }
    ASSERT_TRUE(batch.wait_for(scaled(3s))) << (close_pool ? "close" : "stop");
    EXPECT_FALSE(reading.load()) << "done while the range was being read";
    data.reset();  // the batch is done: the range may go
    // A reader still inside it would touch freed memory now (seen by AddressSanitizer).
    std::this_thread::sleep_for(scaled(350ms));
  }
}

// Jobs held back by max_running still run when the one promoted ahead of them is cleared
// before a runspace takes it.
TEST(Lifecycle, HeldBackJobsRunAfterAPromotedOneIsCleared) {
  Gate first_held, slow_read, other_first;
  std::atomic<bool> reading{false};
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2, .max_queue = 4});
  OpenOnExit open_first_held{first_held}, open_slow_read{slow_read}, open_other{other_first};
  rsp::JobRegistry& registry = pool->registry();
  rsp::JobId first = registry.next_id();
  auto held = rsp::new_runspace_job(*pool, std::vector<int>{0, 1, 2},
                                    [&](int i) {
                                      if (i == 0) first_held.wait();
                                      return i;
                                    },
                                    {.name = "held", .max_running = 1});
  ASSERT_TRUE(eventually(
      [&] { return held.created() == 3 && registry.state(first) == rsp::JobState::Running; }));
  // A second batch keeps the other runspace busy, and its second input is read (slowly, like a
  // pipe) only once a place under max_queue frees: when the first held job ends. So the runspace
  // that ran it is reading that input when job 1 is promoted, and no runspace takes job 1.
  auto slow_input = std::views::iota(0, 2) | std::views::transform([&](int i) {
                      if (i == 1) {
                        reading = true;
                        slow_read.wait();
                      }
                      return i;
                    });
  rsp::JobId other_id = registry.next_id();
  auto other = rsp::new_runspace_job(*pool, slow_input, [&](int i) {
    if (i == 0) other_first.wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return registry.state(other_id) == rsp::JobState::Running; }));
  first_held.open();
  ASSERT_TRUE(eventually([&] { return reading.load(); }));
  rsp::clear_runspace_jobs(*pool, {.id = first + 1, .force = true});
  slow_read.open();
  other_first.open();
  ASSERT_TRUE(held.wait_for(scaled(6s)));
  EXPECT_EQ(registry.state(first + 2), rsp::JobState::Completed);
  EXPECT_TRUE(other.wait_for(scaled(5s)));
}

// A forced clear or another receiver removing a paused batch's jobs lets feeding go on; the
// streaming receiver is not left waiting with inputs unread.
TEST(Lifecycle, RemovingJobsLiftsAStreamingReceiversBackpressure) {
  constexpr std::size_t kJobs = 40;
  for (bool use_clear : {true, false}) {
    SCOPED_TRACE(use_clear ? "clear" : "receive");
    Gate first_callback;
    auto pool = rsp::new_runspace_pool(
        {.min_runspaces = 2, .max_runspaces = 2, .max_queue = 4, .max_unreceived = 4});
    auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, static_cast<int>(kJobs)),
                                       [](int x) {
                                         std::this_thread::sleep_for(10ms);
                                         return x;
                                       },
                                       {.name = "A"});
    std::atomic<std::size_t> handed{0};
    std::thread receiver([&] {
      rsp::receive_runspace_job(*pool, {.name = "A", .timeout = scaled(20s)},
                                [&](rsp::ReceivedJob&) {
                                  // A slow first callback: the batch pauses for this receiver.
                                  if (handed++ == 0) first_callback.wait_for(10s);
                                });
    });
    // Paused: every job created has finished, and max_unreceived of them await the receiver.
    EXPECT_TRUE(eventually([&] {
      return pool->unfinished_jobs() == 0 && pool->registry().size() >= 4;
    })) << "the batch never paused for its slow receiver";
    std::size_t removed = use_clear ? rsp::clear_runspace_jobs(*pool)
                                    : rsp::receive_runspace_job(*pool, {.name = "A"}).size();
    EXPECT_GE(removed, 4u);
    first_callback.open();
    EXPECT_TRUE(batch.wait_for(scaled(5s)));
    receiver.join();
    EXPECT_EQ(handed.load() + removed, kJobs) << "a job was lost or handed over twice";
  }
}

// The close hook of an abandoned runspace is not hit by the interrupt meant for its job.
TEST(Lifecycle, AbandonedRunspaceClosesWithoutTheJobsInterrupt) {
  auto interrupted = std::make_shared<std::atomic<int>>(0);
  auto closed = std::make_shared<std::atomic<int>>(0);
  rsp::PoolOptions options{.min_runspaces = 1, .max_runspaces = 1, .stop_grace = 100ms};
  options.session.close = [interrupted, closed](rsp::Runspace&) {
    try {
      boost::this_thread::sleep_for(boost::chrono::milliseconds(10));
      ++*closed;
    } catch (const boost::thread_interrupted&) {
      ++*interrupted;
    }
  };
  {
    auto pool = rsp::new_runspace_pool(options);
    DeafUntilReleased deaf;  // outlasts the timeout and stop_grace, however late the stop comes
    ReleaseOnExit release{deaf};
    auto batch = rsp::new_runspace_job(*pool, std::vector<int>{1}, [deaf](int) { deaf.wait(); },
                                       {.timeout = 100ms});
    ASSERT_TRUE(batch.wait_for(scaled(3s)));
    ASSERT_TRUE(eventually([&] { return pool->abandoned_runspaces() == 1; }));
    deaf.release();  // the abandoned runspace's job returns, and its runspace closes
    ASSERT_TRUE(eventually([&] { return closed->load() + interrupted->load() >= 1; }));
  }
  EXPECT_EQ(interrupted->load(), 0);
  EXPECT_EQ(closed->load(), 2);  // the abandoned runspace and its replacement
}

// Pools dropped with jobs nobody received free their registry and its threads.
TEST(Lifecycle, DroppedPoolsWithUnreceivedJobsLeaveNoThreadBehind) {
  std::thread([] {}).join();  // ThreadSanitizer starts a helper thread with the first thread
  std::size_t before = thread_count();
  std::weak_ptr<rsp::detail::RegistryCore> first_registry;
  for (int i = 0; i < 10; ++i) {
    auto pool = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = 2});
    if (i == 0) first_registry = rsp::detail::Access::core(pool->registry());
    rsp::new_runspace_job(*pool, std::vector<int>{1, 2, 3}, [](int x) { return x; }).wait();
  }
  EXPECT_TRUE(eventually([&] { return first_registry.expired(); }));
  EXPECT_TRUE(eventually([&] { return thread_count() <= before; }))
      << "threads before " << before << ", now " << thread_count();
}
