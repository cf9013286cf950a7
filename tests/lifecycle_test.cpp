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

using namespace std::chrono_literals;

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

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 3s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
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
    ASSERT_TRUE(batch.wait_for(3s)) << (close_pool ? "close" : "stop");
    EXPECT_FALSE(reading.load()) << "done while the range was being read";
    data.reset();                        // the batch is done: the range may go
    std::this_thread::sleep_for(350ms);  // a reader still inside it would touch freed memory
  }
}

// Jobs held back by max_running still run when the one promoted ahead of them is cleared
// before a runspace takes it.
TEST(Lifecycle, HeldBackJobsRunAfterAPromotedOneIsCleared) {
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2, .max_queue = 4});
  rsp::JobId first = pool->registry().next_id();
  auto held = rsp::new_runspace_job(*pool, std::vector<int>{0, 1, 2},
                                    [](int i) {
                                      if (i == 0) std::this_thread::sleep_for(500ms);
                                      return i;
                                    },
                                    {.name = "held", .max_running = 1});
  std::this_thread::sleep_for(100ms);
  // A second batch keeps the other runspace reading a slow input when the first job ends.
  auto slow_input = std::views::iota(0, 2) | std::views::transform([](int i) {
                      if (i == 1) std::this_thread::sleep_for(1500ms);
                      return i;
                    });
  auto other = rsp::new_runspace_job(*pool, slow_input, [](int i) {
    if (i == 0) std::this_thread::sleep_for(2s);
    return i;
  });
  std::this_thread::sleep_for(700ms);
  rsp::clear_runspace_jobs(*pool, {.id = first + 1, .force = true});
  ASSERT_TRUE(held.wait_for(6s));
  EXPECT_EQ(pool->registry().state(first + 2), rsp::JobState::Completed);
}

// A forced clear or another receiver removing a paused batch's jobs lets feeding go on; the
// streaming receiver is not left waiting with inputs unread.
TEST(Lifecycle, RemovingJobsLiftsAStreamingReceiversBackpressure) {
  for (bool use_clear : {true, false}) {
    auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2, .max_queue = 4});
    auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 40),
                                       [](int x) {
                                         std::this_thread::sleep_for(10ms);
                                         return x;
                                       },
                                       {.name = "A"});
    std::atomic<int> handed{0};
    std::thread receiver([&] {
      rsp::receive_runspace_job(*pool, {.name = "A", .timeout = 20s}, [&](rsp::ReceivedJob&) {
        if (handed++ == 0) std::this_thread::sleep_for(500ms);  // a slow first callback
      });
    });
    std::this_thread::sleep_for(250ms);
    if (use_clear) {
      rsp::clear_runspace_jobs(*pool);
    } else {
      rsp::receive_runspace_job(*pool, {.name = "A"});
    }
    EXPECT_TRUE(batch.wait_for(5s)) << (use_clear ? "clear" : "receive");
    receiver.join();
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
    auto batch =
        rsp::new_runspace_job(*pool, std::vector<int>{1},
                              [](int) { std::this_thread::sleep_for(600ms); }, {.timeout = 100ms});
    ASSERT_TRUE(batch.wait_for(3s));
    ASSERT_TRUE(eventually([&] { return pool->abandoned_runspaces() == 1; }));
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
    if (i == 0) first_registry = pool->registry().core();
    rsp::new_runspace_job(*pool, std::vector<int>{1, 2, 3}, [](int x) { return x; }).wait();
  }
  EXPECT_TRUE(eventually([&] { return first_registry.expired(); }));
  EXPECT_TRUE(eventually([&] { return thread_count() <= before; }))
      << "threads before " << before << ", now " << thread_count();
}
