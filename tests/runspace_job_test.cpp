// Unit tests of include/rsparallel/runspace_job.hpp: new_runspace_job's overloads and script
// forms, slicing, max_running, JobBatch, and the lazy, bounded reading of input ranges.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::scaled;
using ::testing::HasSubstr;

namespace {

// Counts jobs running at once and keeps the highest count seen.
class Concurrency {
 public:
  // Enters, waits until `target` are inside at once (or `limit`, scaled, passes, or a stop),
  // leaves.
  void enter_and_wait_for(std::size_t target, std::stop_token stop,
                          std::chrono::milliseconds limit = 2s) {
    std::unique_lock lock(mutex_);
    ++now_;
    peak_ = std::max(peak_, now_);
    cv_.notify_all();
    cv_.wait_for(lock, stop, rsp_test::scaled(limit), [&] { return peak_ >= target; });
    lock.unlock();
    std::this_thread::sleep_for(2ms);
    lock.lock();
    --now_;
  }
  std::size_t peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::size_t now_ = 0;
  std::size_t peak_ = 0;
};

void update_max(std::atomic<std::size_t>& max, std::size_t value) {
  std::size_t seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) {
  }
}

struct RangeCounters {
  std::atomic<std::size_t> reads{0};     // dereferences of an iterator
  std::atomic<std::size_t> advances{0};  // increments of an iterator
  std::atomic<std::size_t> copies{0};    // copies of the range object
  std::atomic<std::size_t> moves{0};     // moves of the range object
};

// An input range of unknown size over offset + 0 .. offset + size - 1 that counts how it is
// read, copied and moved, and throws when the input at `throw_at` is read.
class CountingRange {
 public:
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    iterator(const CountingRange* range, int position) : range_(range), position_(position) {}

    int operator*() const { return range_->read(position_); }
    iterator& operator++() {
      ++range_->counters_->advances;
      ++position_;
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return position_ >= range_->size_; }

   private:
    const CountingRange* range_ = nullptr;
    int position_ = 0;
  };

  CountingRange(int size, RangeCounters* counters, int throw_at = -1)
      : size_(size), throw_at_(throw_at), counters_(counters) {}
  CountingRange(const CountingRange& other)
      : size_(other.size_),
        throw_at_(other.throw_at_),
        offset_(other.offset_.load()),
        counters_(other.counters_) {
    ++counters_->copies;
  }
  CountingRange(CountingRange&& other) noexcept
      : size_(other.size_),
        throw_at_(other.throw_at_),
        offset_(other.offset_.load()),
        counters_(other.counters_) {
    ++counters_->moves;
  }
  CountingRange& operator=(const CountingRange&) = delete;

  iterator begin() const { return iterator(this, 0); }
  std::default_sentinel_t end() const { return {}; }

  void set_offset(int offset) { offset_ = offset; }

 private:
  int read(int position) const {
    ++counters_->reads;
    if (position == throw_at_) throw std::runtime_error("bad input " + std::to_string(position));
    return offset_.load() + position;
  }

  int size_;
  int throw_at_;
  std::atomic<int> offset_{0};
  RangeCounters* counters_;
};

static_assert(std::ranges::input_range<CountingRange>);
static_assert(!std::ranges::sized_range<CountingRange>);

std::vector<rsp::ReceivedJob> receive_all(rsp::RunspacePool& pool) {
  return rsp::receive_runspace_job(pool, {.wait = true, .timeout = scaled(20s)});
}

int plus_one(int x) { return x + 1; }

struct Scaler {
  int factor;
  int operator()(int x) const { return x * factor; }
};

}  // namespace

// ---- the call --------------------------------------------------------------------------------

TEST(RunspaceJob, ReturnsAtOnce) {
  Gate release;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto begin = std::chrono::steady_clock::now();
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 10),
                                              [&](int i, rsp::JobContext& ctx) {
                                                release.wait(ctx.stop_token(), 5s);
                                                return i;
                                              },
                                              {.name = "slow"});
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, scaled(1s)) << "new_runspace_job waited for its jobs";
  EXPECT_FALSE(batch.done());
  EXPECT_EQ(batch.name(), "slow");
  release.open();
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 10u);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(RunspaceJob, NegativeTimeoutRejected) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  std::vector<int> inputs{1, 2, 3};
  try {
    rsp::new_runspace_job(*pool, inputs, [](int x) { return x; }, {.timeout = -5ms});
    FAIL() << "a negative timeout was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("JobOptions::timeout"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("-5"));
  }
  EXPECT_THROW((rsp::validate(rsp::JobOptions{.timeout = -1ms})), std::invalid_argument);
  EXPECT_NO_THROW((rsp::validate(rsp::JobOptions{.timeout = 0ms})));
  // Nothing was created for the rejected call.
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_EQ(pool->registry().next_id(), 1u);
}

TEST(RunspaceJob, NullSharedPoolRejected) {
  std::shared_ptr<rsp::RunspacePool> none;
  std::vector<int> inputs{1};
  EXPECT_THROW(rsp::new_runspace_job(none, inputs, [](int x) { return x; }), std::invalid_argument);
}

// An lvalue range is referenced: never copied or moved, and read where it lives, lazily (a change
// made to it after the call is seen by the inputs read later).
TEST(RunspaceJob, LvalueRangeIsReferenced) {
  RangeCounters counters;
  CountingRange range(4, &counters);
  Gate first_running, release;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 1});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, range, [&](int x, rsp::JobContext& ctx) {
    if (x == 0) {
      first_running.open();
      release.wait(ctx.stop_token());
    }
    return x;
  });
  ASSERT_TRUE(first_running.wait_for(5s));
  range.set_offset(1000);  // input 0 was read; inputs 1.. are not yet
  release.open();
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = receive_all(*pool);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 1001, 1002, 1003}));
  EXPECT_EQ(counters.copies.load(), 0u);
  EXPECT_EQ(counters.moves.load(), 0u);
}

// An rvalue range is owned: moved in, never copied, and still there when read after the
// temporary is gone.
TEST(RunspaceJob, RvalueRangeIsOwned) {
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 1});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, CountingRange(5, &counters), [](int x) {
    std::this_thread::sleep_for(1ms);
    return x;
  });
  rsp::JobBatch vector_batch =
      rsp::new_runspace_job(*pool, std::vector<std::string>{"alpha", "beta", "gamma"},
                            [](const std::string& s) { return s + "!"; }, {.name = "strings"});
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  ASSERT_TRUE(vector_batch.wait_for(scaled(10s)));
  EXPECT_EQ(counters.copies.load(), 0u);
  EXPECT_GE(counters.moves.load(), 1u);
  EXPECT_EQ(counters.reads.load(), 5u);
  auto numbers = receive_all(*pool);
  std::vector<int> ints;
  std::vector<std::string> strings;
  for (const auto& job : numbers) {
    if (job.name == "strings") {
      auto part = job.output_as<std::string>();
      strings.insert(strings.end(), part.begin(), part.end());
    } else {
      auto part = job.output_as<int>();
      ints.insert(ints.end(), part.begin(), part.end());
    }
  }
  EXPECT_EQ(ints, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(strings, (std::vector<std::string>{"alpha!", "beta!", "gamma!"}));
}

// Move-only inputs work from an owned range.
TEST(RunspaceJob, MoveOnlyInputsFromAnOwnedRange) {
  std::vector<std::unique_ptr<int>> inputs;
  for (int i = 0; i < 4; ++i) inputs.push_back(std::make_unique<int>(i * 3));
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::move(inputs), [](const std::unique_ptr<int>& p) { return *p; });
  auto jobs = receive_all(*pool);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 3, 6, 9}));
}

// Each job holds a copy of its inputs: a script never sees the caller's elements.
TEST(RunspaceJob, JobsCopyTheirInputs) {
  std::vector<std::string> inputs{"a", "b", "c", "d"};
  const std::string* first = inputs.data();
  const std::string* last = inputs.data() + inputs.size();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, inputs, [&](std::string& s) {
    bool inside = std::less_equal<>()(first, &s) && std::less<>()(&s, last);
    s += "-changed";
    return inside;
  });
  auto jobs = receive_all(*pool);
  EXPECT_EQ(rsp::outputs_as<bool>(jobs), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(inputs, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(RunspaceJob, InitializerListOverloads) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, {1, 2, 3}, [](int x) { return x * 2; });
  EXPECT_EQ(batch.expected(), std::optional<std::size_t>(3));
  rsp::new_runspace_job(pool, {std::string("x"), std::string("y")},
                        [](const std::string& s) { return s + s; }, {.name = "shared"});
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 5u);
  std::vector<int> ints;
  std::vector<std::string> strings;
  for (const auto& job : jobs) {
    if (job.name == "shared") {
      strings.push_back(job.output_as<std::string>().at(0));
    } else {
      ints.push_back(job.output_as<int>().at(0));
    }
  }
  EXPECT_EQ(ints, (std::vector<int>{2, 4, 6}));
  EXPECT_EQ(strings, (std::vector<std::string>{"xx", "yy"}));
}

// Every script form of the header, each over 1..6, with the results they should give.
TEST(RunspaceJob, AllScriptForms) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  const std::vector<int> inputs{1, 2, 3, 4, 5, 6};
  const std::vector<int> plus1{2, 3, 4, 5, 6, 7};
  std::atomic<int> void_calls{0};

  auto run = [&](auto script, rsp::JobOptions options = {}) {
    rsp::JobBatch batch = rsp::new_runspace_job(*pool, inputs, std::move(script), options);
    EXPECT_TRUE(batch.wait_for(scaled(10s)));
    auto jobs = receive_all(*pool);
    for (const auto& job : jobs) {
      EXPECT_EQ(job.state, rsp::JobState::Completed);
      for (const auto& error : job.errors) ADD_FAILURE() << error.message;
    }
    return jobs;
  };

  EXPECT_EQ(rsp::outputs_as<int>(run([](int x) { return x + 1; })), plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run([](const int& x) { return x + 1; })), plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run([](int& x) {
              x += 1;  // the job's own copy
              return x;
            })),
            plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run([](int x, rsp::JobContext& ctx) {
              ctx.write_verbose("x=" + std::to_string(x));
              return x + 1;
            })),
            plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run([](const int& x, rsp::JobContext&) { return x + 1; })), plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run([](auto x) { return x + 1; })), plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run(&plus_one)), plus1);
  EXPECT_EQ(rsp::outputs_as<int>(run(Scaler{10})), (std::vector<int>{10, 20, 30, 40, 50, 60}));

  // A void script writes no Output.
  auto silent = run([&](int) { ++void_calls; });
  EXPECT_EQ(silent.size(), 6u);
  EXPECT_TRUE(rsp::outputs_as<int>(silent).empty());
  EXPECT_EQ(void_calls.load(), 6);

  auto sum = [](std::span<const int> xs) { return std::accumulate(xs.begin(), xs.end(), 0); };
  EXPECT_EQ(rsp::outputs_as<int>(run(sum, {.slice_size = 4})), (std::vector<int>{10, 11}));
  // A span script with slice_size 1 gets a span of one input per job.
  EXPECT_EQ(rsp::outputs_as<int>(run(sum)), (std::vector<int>{1, 2, 3, 4, 5, 6}));

  auto sized = run(
      [](std::span<const int> xs, rsp::JobContext& ctx) {
        ctx.write_output(static_cast<int>(ctx.input_index()));
        return static_cast<int>(xs.size());
      },
      {.slice_size = 4});
  EXPECT_EQ(rsp::outputs_as<int>(sized), (std::vector<int>{0, 4, 4, 2}));
}

// ---- slices ----------------------------------------------------------------------------------

TEST(RunspaceJob, AutomaticSliceIsAboutSquareRoot) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  rsp::JobBatch batch = rsp::new_runspace_job(
      *pool, std::views::iota(0, 100),
      [](std::span<const int> xs) { return std::accumulate(xs.begin(), xs.end(), 0); },
      {.slice_size = 0});
  EXPECT_EQ(batch.slice_size(), 10u);
  EXPECT_EQ(batch.expected(), std::optional<std::size_t>(10));
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(batch.created(), 10u);
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 10u);
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    EXPECT_EQ(jobs[k].input_count, 10u);
    EXPECT_EQ(jobs[k].input_index, 10 * k);
    int first = static_cast<int>(10 * k);
    EXPECT_EQ(jobs[k].output_as<int>(), std::vector<int>{10 * first + 45});
  }
}

TEST(RunspaceJob, AutomaticSliceOfUnsizedRange) {
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(
      *pool, CountingRange(130, &counters),
      [](std::span<const int> xs) { return static_cast<int>(xs.size()); }, {.slice_size = 0});
  EXPECT_FALSE(batch.expected().has_value());
  EXPECT_EQ(batch.slice_size(), 64u);
  auto jobs = receive_all(*pool);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{64, 64, 2}));
}

TEST(RunspaceJob, OneInputScriptRunsOncePerInputOfItsSlice) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 12),
                                              [](int x) { return x * x; }, {.slice_size = 5});
  EXPECT_EQ(batch.slice_size(), 5u);
  EXPECT_EQ(batch.expected(), std::optional<std::size_t>(3));
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].input_count, 5u);
  EXPECT_EQ(jobs[1].input_count, 5u);
  EXPECT_EQ(jobs[2].input_count, 2u);
  EXPECT_EQ(jobs[0].output_as<int>(), (std::vector<int>{0, 1, 4, 9, 16}));
  EXPECT_EQ(jobs[1].output_as<int>(), (std::vector<int>{25, 36, 49, 64, 81}));
  EXPECT_EQ(jobs[2].output_as<int>(), (std::vector<int>{100, 121}));
}

// ---- max_running -----------------------------------------------------------------------------

// max_running caps one batch's jobs running at once, though the pool has more runspaces, and the
// runspaces it leaves free run other batches.
TEST(RunspaceJob, MaxRunningCapsTheBatch) {
  Concurrency capped;
  Concurrency other;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 4, .max_runspaces = 4});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 8),
                            [&](int, rsp::JobContext& ctx) {
                              // Waits for a third to join; none should.
                              capped.enter_and_wait_for(3, ctx.stop_token(), 100ms);
                            },
                            {.max_running = 2});
  rsp::JobBatch second = rsp::new_runspace_job(
      *pool, std::views::iota(0, 2),
      [&](int, rsp::JobContext& ctx) { other.enter_and_wait_for(2, ctx.stop_token()); });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  ASSERT_TRUE(second.wait_for(scaled(10s)));
  EXPECT_EQ(capped.peak(), 2u);
  EXPECT_EQ(other.peak(), 2u) << "a capped batch kept another batch from running";
}

// ---- JobBatch --------------------------------------------------------------------------------

TEST(RunspaceJob, CreatedAndExpected) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch sliced = rsp::new_runspace_job(
      *pool, std::vector<int>{1, 2, 3, 4, 5, 6, 7},
      [](std::span<const int> xs) { return static_cast<int>(xs.size()); }, {.slice_size = 3});
  EXPECT_EQ(sliced.expected(), std::optional<std::size_t>(3));
  EXPECT_LE(sliced.created(), 3u);
  ASSERT_TRUE(sliced.wait_for(scaled(10s)));
  EXPECT_EQ(sliced.created(), 3u);

  RangeCounters counters;
  rsp::JobBatch unsized =
      rsp::new_runspace_job(*pool, CountingRange(6, &counters), [](int x) { return x; });
  EXPECT_EQ(unsized.expected(), std::nullopt);
  ASSERT_TRUE(unsized.wait_for(scaled(10s)));
  EXPECT_EQ(unsized.created(), 6u);

  rsp::JobBatch none;
  EXPECT_EQ(none.created(), 0u);
  EXPECT_TRUE(none.done());
}

TEST(RunspaceJob, DoneWaitAndWaitFor) {
  Gate release;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3),
                            [&](int, rsp::JobContext& ctx) { release.wait(ctx.stop_token()); });
  rsp::JobBatch copy = batch;  // copies share the batch
  EXPECT_FALSE(batch.done());
  auto begin = std::chrono::steady_clock::now();
  EXPECT_FALSE(batch.wait_for(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 50ms);
  EXPECT_FALSE(copy.done());

  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    copy.wait();
    waited = true;
  });
  release.open();
  batch.wait();
  EXPECT_TRUE(batch.done());
  EXPECT_TRUE(batch.wait_for(0ms));
  waiter.join();
  EXPECT_TRUE(waited);
  EXPECT_TRUE(copy.done());

  rsp::JobBatch empty_handle;
  empty_handle.wait();  // returns at once
  EXPECT_TRUE(empty_handle.wait_for(0ms));
}

TEST(RunspaceJob, IdsOfOneBatchIncreaseByOne) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  rsp::new_runspace_job(*pool, std::views::iota(0, 40), [](int x) { return x; },
                        {.name = "numbered"});
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 40u);
  EXPECT_EQ(jobs[0].id, 1u);  // ids start at 1
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    EXPECT_EQ(jobs[k].id, jobs[0].id + k);
    EXPECT_EQ(jobs[k].input_index, k);  // created in input order
    EXPECT_EQ(jobs[k].name, "numbered");
  }
}

TEST(RunspaceJob, EmptyInputGivesADoneBatch) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch sized = rsp::new_runspace_job(*pool, std::vector<int>{}, [](int x) { return x; });
  EXPECT_EQ(sized.expected(), std::optional<std::size_t>(0));
  ASSERT_TRUE(sized.wait_for(scaled(5s)));
  EXPECT_TRUE(sized.done());
  EXPECT_EQ(sized.created(), 0u);

  RangeCounters counters;
  rsp::JobBatch unsized = rsp::new_runspace_job(*pool, CountingRange(0, &counters),
                                                [](int x) { return x; }, {.slice_size = 0});
  ASSERT_TRUE(unsized.wait_for(scaled(5s)));
  EXPECT_EQ(unsized.created(), 0u);

  EXPECT_TRUE(rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s)}).empty());
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
}

// Reading the range throws: the inputs read before become jobs, a Failed job carries the error,
// and the batch ends there.
TEST(RunspaceJob, ThrowingInputRangeEndsTheBatchWithAFailedJob) {
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, CountingRange(10, &counters, 4),
                                              [](int x) { return x; }, {.name = "reader"});
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(batch.created(), 5u);
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 5u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(jobs[k].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[k].output_as<int>(), std::vector<int>{k});
  }
  const rsp::ReceivedJob& failed = jobs[4];
  EXPECT_EQ(failed.state, rsp::JobState::Failed);
  EXPECT_EQ(failed.name, "reader");
  EXPECT_EQ(failed.input_index, 4u);
  ASSERT_EQ(failed.errors.size(), 1u);
  EXPECT_THAT(failed.errors[0].message, HasSubstr("bad input 4"));
  EXPECT_EQ(failed.errors[0].type, "std::runtime_error");
  EXPECT_THROW(std::rethrow_exception(failed.errors[0].exception), std::runtime_error);
  EXPECT_TRUE(failed.output.empty());
  EXPECT_EQ(counters.reads.load(), 5u) << "the range was read on after it threw";
}

TEST(RunspaceJob, RangeThrowingOnTheFirstInput) {
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, CountingRange(3, &counters, 0), [](int x) { return x; });
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Failed);
  ASSERT_EQ(jobs[0].errors.size(), 1u);
  EXPECT_THAT(jobs[0].errors[0].message, HasSubstr("bad input 0"));
}

TEST(RunspaceJob, StopEndsNotStartedJobsAndFeeding) {
  Gate started;
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 3});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, CountingRange(50, &counters), [&](int, rsp::JobContext& ctx) {
        started.open();
        Gate never;
        never.wait(ctx.stop_token(), 10s);
      });
  ASSERT_TRUE(started.wait_for(5s));
  batch.stop();
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  EXPECT_LE(batch.created(), 3u);
  auto jobs = receive_all(*pool);
  EXPECT_EQ(jobs.size(), batch.created());
  for (const auto& job : jobs) EXPECT_EQ(job.state, rsp::JobState::Stopped);
  EXPECT_LE(counters.reads.load(), 4u);
  EXPECT_TRUE(eventually([&] { return pool->busy_runspaces() == 0; }));
}

// ---- lazy, bounded reading -------------------------------------------------------------------

// While jobs cannot finish, the range is read no further than max_queue inputs (one more may be
// read ahead), and no more jobs than max_queue exist.
TEST(RunspaceJob, InputsArePulledLazily) {
  Gate release;
  RangeCounters counters;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 4});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, CountingRange(100, &counters), [&](int x, rsp::JobContext& ctx) {
        release.wait(ctx.stop_token());
        return x;
      });
  ASSERT_TRUE(eventually([&] { return batch.created() == 4; }));
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));
  // Give an over-eager feeder time to read on.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(batch.created(), 4u);
  EXPECT_EQ(pool->unfinished_jobs(), 4u);
  EXPECT_LE(counters.reads.load(), 5u);
  EXPECT_LE(counters.advances.load(), 5u);
  EXPECT_EQ(pool->registry().size(), 4u);

  release.open();
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(batch.created(), 100u);
  EXPECT_EQ(counters.reads.load(), 100u);
  auto jobs = receive_all(*pool);
  ASSERT_EQ(jobs.size(), 100u);
  std::vector<int> expected(100);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), expected);
}

// 100,000 inputs with max_queue 8: never more than 8 unfinished jobs, and while a streaming
// receive runs the registry stays bounded too (API.md: "with it, memory stays bounded by
// max_queue however many inputs there are"). The bound allows 2 * max_queue for jobs in
// hand-over. Jobs that finish before the receiver attaches are not held back (nothing may ever
// come to take them), so the in-job check starts once the receiver has taken its first jobs.
TEST(RunspaceJob, HundredThousandInputsStayBounded) {
  constexpr int kInputs = 100'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 8, .max_unreceived = 8});
  rsp::RunspacePool* raw = pool.get();
  std::atomic<std::size_t> most_unfinished{0}, most_held_in_jobs{0};
  std::atomic<bool> receiving{false};
  std::size_t most_held_in_receiver = 0;
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, kInputs),
                            [raw, &most_unfinished, &most_held_in_jobs, &receiving](int x) {
                              update_max(most_unfinished, raw->unfinished_jobs());
                              if (receiving.load())
                                update_max(most_held_in_jobs, raw->registry().size());
                              return x;
                            });
  std::size_t received = 0;
  long long sum = 0;
  std::vector<int> seen(kInputs, 0);
  std::size_t handed =
      rsp::receive_runspace_job(*pool, {.timeout = scaled(60s)}, [&](rsp::ReceivedJob job) {
        ++received;
        if (received > 1) {
          most_held_in_receiver = std::max(most_held_in_receiver, raw->registry().size());
        }
        receiving.store(true);
        if (job.state != rsp::JobState::Completed || job.output.size() != 1) return;
        int x = std::any_cast<int>(job.output[0]);
        ++seen[x];
        sum += x;
      });
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(handed, static_cast<std::size_t>(kInputs));
  EXPECT_EQ(received, static_cast<std::size_t>(kInputs));
  EXPECT_EQ(sum, static_cast<long long>(kInputs) * (kInputs - 1) / 2);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  EXPECT_LE(most_unfinished.load(), 8u);
  EXPECT_GE(most_unfinished.load(), 1u);
  EXPECT_LE(most_held_in_jobs.load(), 16u);
  EXPECT_LE(most_held_in_receiver, 16u);
  EXPECT_EQ(pool->registry().size(), 0u);
}
