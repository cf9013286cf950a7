// Scenarios a user of the PowerShell modules would run first.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <numeric>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::OpenOnExit;
using rsp_test::scaled;

namespace {

// An input range of unknown size that counts how many inputs were read from it.
class CountingInputs {
 public:
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(std::atomic<int>* reads, int at) : reads_(reads), at_(at) {}
    int operator*() const {
      reads_->fetch_add(1);
      return at_;
    }
    iterator& operator++() {
      ++at_;
      return *this;
    }
    void operator++(int) { ++at_; }
    bool operator==(const iterator& other) const { return at_ == other.at_; }

   private:
    std::atomic<int>* reads_ = nullptr;
    int at_ = 0;
  };

  explicit CountingInputs(int count) : count_(count) {}
  iterator begin() const { return iterator(&reads_, 0); }
  iterator end() const { return iterator(&reads_, count_); }
  int reads() const { return reads_.load(); }

 private:
  int count_;
  mutable std::atomic<int> reads_{0};
};
static_assert(std::ranges::input_range<CountingInputs>);
static_assert(!std::ranges::sized_range<CountingInputs>);

}  // namespace

// 1..10 | Invoke-Parallel -SliceSize 1 -MaxRunning 10
TEST(Scenario, OneJobPerItemTenRunning) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 10});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(1, 11), [](int i) { return i * 10; },
                            {.name = "tens", .max_running = 10});
  EXPECT_TRUE(batch.wait_for(scaled(10s)));
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true});
  ASSERT_EQ(jobs.size(), 10u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[i].name, "tens");
    EXPECT_EQ(jobs[i].input_index, i);
    EXPECT_EQ(jobs[i].output_as<int>(), std::vector<int>{static_cast<int>(i + 1) * 10});
  }
  EXPECT_EQ(pool->registry().size(), 0u);
}

// The $args form: each job gets its slice.
TEST(Scenario, SlicesHandedToOneJobAsArgs) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  rsp::new_runspace_job(
      *pool, std::views::iota(1, 11),
      [](std::span<const int> args) { return std::accumulate(args.begin(), args.end(), 0); },
      {.slice_size = 3});
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true});
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{6, 15, 24, 10}));
  EXPECT_EQ(jobs[3].input_index, 9u);
  EXPECT_EQ(jobs[3].input_count, 1u);
}

// Ids are unique and go up by one across a batch, in input order.
TEST(Scenario, IdsIncreaseByOneAcrossABatch) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3, .max_queue = 4});
  rsp::JobId first = pool->registry().next_id();
  rsp::new_runspace_job(*pool, std::views::iota(0, 50), [](int i) { return i; });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 50u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].id, first + i);
    EXPECT_EQ(jobs[i].input_index, i);
  }
  // The next batch goes on from there.
  rsp::new_runspace_job(*pool, std::views::iota(0, 2), [](int i) { return i; });
  auto next = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].id, first + 50);
  EXPECT_EQ(next[1].id, first + 51);
}

// Receive-RunspaceJob -ID, then -JobName.
TEST(Scenario, ReceiveByIdThenByName) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto pings = rsp::new_runspace_job(*pool, std::vector<std::string>{"a", "b", "c"},
                                     [](const std::string& host) { return "pong " + host; },
                                     {.name = "ping"});
  auto squares =
      rsp::new_runspace_job(*pool, {1, 2, 3}, [](int x) { return x * x; }, {.name = "square"});
  ASSERT_TRUE(pings.wait_for(scaled(5s)));
  ASSERT_TRUE(squares.wait_for(scaled(5s)));
  auto all = rsp::receive_runspace_job(*pool, {.keep = true});
  ASSERT_EQ(all.size(), 6u);
  auto b = std::find_if(all.begin(), all.end(), [](const rsp::ReceivedJob& job) {
    return job.name == "ping" && job.input_index == 1;
  });
  ASSERT_NE(b, all.end());

  auto by_id = rsp::receive_runspace_job(*pool, {.id = b->id});
  ASSERT_EQ(by_id.size(), 1u);
  EXPECT_EQ(by_id[0].output_as<std::string>(), std::vector<std::string>{"pong b"});
  auto by_name = rsp::receive_runspace_job(*pool, {.name = "square"});
  EXPECT_EQ(rsp::outputs_as<int>(by_name), (std::vector<int>{1, 4, 9}));
  auto rest = rsp::receive_runspace_job(*pool);
  EXPECT_EQ(rsp::outputs_as<std::string>(rest), (std::vector<std::string>{"pong a", "pong c"}));
  EXPECT_EQ(pool->registry().size(), 0u);
}

// Receive-RunspaceJob -Keep: look now, get the same jobs again later.
TEST(Scenario, KeepThenReceiveAgain) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(1, 5), [](int i) { return i * 100; },
                        {.name = "keepme"});
  auto first =
      rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s), .keep = true});
  auto second = rsp::receive_runspace_job(*pool, {.name = "keepme"});
  EXPECT_EQ(rsp::outputs_as<int>(first), (std::vector<int>{100, 200, 300, 400}));
  EXPECT_EQ(rsp::outputs_as<int>(second), rsp::outputs_as<int>(first));
  EXPECT_TRUE(rsp::receive_runspace_job(*pool).empty());
}

// Clear-RunspaceJobs by id, then by name.
TEST(Scenario, ClearByIdThenByName) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto scan = rsp::new_runspace_job(*pool, std::views::iota(0, 4), [](int i) { return i; },
                                    {.name = "scan"});
  auto other = rsp::new_runspace_job(*pool, std::views::iota(0, 2), [](int i) { return i; },
                                     {.name = "other"});
  ASSERT_TRUE(scan.wait_for(scaled(5s)));
  ASSERT_TRUE(other.wait_for(scaled(5s)));
  auto look = rsp::receive_runspace_job(*pool, {.name = "scan", .keep = true});
  ASSERT_EQ(look.size(), 4u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.id = look[0].id}), 1u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool, {.name = "scan"}), 3u);
  auto left = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(left.size(), 2u);
  for (const auto& job : left) EXPECT_EQ(job.name, "other");
}

// A job that throws among good ones: it is Failed with the exception as its error record, and the
// others Complete untouched.
TEST(Scenario, ThrowingJobAmongGoodOnes) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 3});
  rsp::new_runspace_job(*pool, std::views::iota(0, 8), [](int i) {
    if (i == 3) throw std::runtime_error("bad input 3");
    return i;
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 8u);
  for (const auto& job : jobs) {
    if (job.input_index == 3) {
      EXPECT_EQ(job.state, rsp::JobState::Failed);
      EXPECT_TRUE(job.had_errors());
      EXPECT_TRUE(job.output.empty());
      ASSERT_EQ(job.errors.size(), 1u);
      EXPECT_EQ(job.errors[0].message, "bad input 3");
      EXPECT_NE(job.errors[0].type.find("runtime_error"), std::string::npos) << job.errors[0].type;
      ASSERT_TRUE(job.errors[0].exception);
      EXPECT_THROW(std::rethrow_exception(job.errors[0].exception), std::runtime_error);
    } else {
      EXPECT_EQ(job.state, rsp::JobState::Completed);
      EXPECT_FALSE(job.had_errors());
      EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index)});
    }
  }
}

// Session variables: every runspace has its own copy, changed only by the jobs it runs.
TEST(Scenario, SessionVariablesPerRunspace) {
  auto pool =
      rsp::new_runspace_pool({.min_runspaces = 2,
                              .max_runspaces = 2,
                              .session = {.variables = {{"counter", 0}, {"label", "runspace"}}}});
  auto both_busy = std::make_shared<std::latch>(2);
  rsp::new_runspace_job(*pool, std::views::iota(0, 40), [both_busy](int i, rsp::JobContext& ctx) {
    // The first two jobs hold their runspaces until both run, so both runspaces take jobs.
    if (i < 2) both_busy->arrive_and_wait();
    int& counter = ctx.runspace().variable<int>("counter");
    ++counter;
    return std::make_pair(ctx.runspace().index(), ctx.runspace().variable<std::string>("label") +
                                                      " " + std::to_string(counter));
  });
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 40u);
  std::map<std::size_t, std::vector<std::string>> seen;  // runspace index -> labels in id order
  for (const auto& job : jobs) {
    ASSERT_EQ(job.state, rsp::JobState::Completed)
        << (job.errors.empty() ? "" : job.errors[0].message);
    auto [index, label] = job.output_as<std::pair<std::size_t, std::string>>().at(0);
    seen[index].push_back(label);
  }
  ASSERT_EQ(seen.size(), 2u);
  std::size_t total = 0;
  for (auto& [index, labels] : seen) {
    // Each runspace counted its own jobs 1, 2, 3, ... (jobs of one runspace finish in id order).
    for (std::size_t n = 0; n < labels.size(); ++n) {
      EXPECT_EQ(labels[n], "runspace " + std::to_string(n + 1)) << "runspace " << index;
    }
    total += labels.size();
  }
  EXPECT_EQ(total, 40u);
}

// Inputs are pulled only as places under max_queue free.
TEST(Scenario, InputsArePulledLazily) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .max_queue = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  CountingInputs inputs(100);
  auto batch = rsp::new_runspace_job(*pool, inputs, [gate](int i) {
    gate->wait();
    return i;
  });
  EXPECT_FALSE(batch.expected().has_value());  // a range of unknown size
  ASSERT_TRUE(eventually([&] { return batch.created() == 2; }));
  EXPECT_EQ(inputs.reads(), 2);  // one running, one queued, nothing read ahead
  EXPECT_EQ(pool->registry().size(), 2u);

  gate->open();
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 100u);
  EXPECT_EQ(inputs.reads(), 100);
  EXPECT_EQ(rsp::outputs_as<int>(jobs).back(), 99);
}

// The whole flow over 10,000 inputs: new_runspace_job, a streaming receive, a clear.
TEST(Scenario, TenThousandInputsStreamedAndCleared) {
  constexpr int kInputs = 10'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, kInputs),
                                     [](int i) { return 2 * i; }, {.name = "flow"});
  std::vector<bool> seen(kInputs, false);
  std::size_t bad = 0;
  std::size_t count = rsp::receive_runspace_job(
      *pool, {.name = "flow", .timeout = scaled(30s)}, [&](rsp::ReceivedJob job) {
        std::vector<int> out = job.output_as<int>();
        if (job.state != rsp::JobState::Completed || out.size() != 1 ||
            out[0] != 2 * static_cast<int>(job.input_index) || seen.at(job.input_index)) {
          ++bad;
        }
        seen.at(job.input_index) = true;
      });
  EXPECT_EQ(count, static_cast<std::size_t>(kInputs));
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), kInputs);
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(batch.created(), static_cast<std::size_t>(kInputs));
  EXPECT_EQ(rsp::clear_runspace_jobs(*pool), 0u);  // everything was received
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_EQ(pool->unfinished_jobs(), 0u);
}
