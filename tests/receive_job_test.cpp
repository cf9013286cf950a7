// Receive-RunspaceJob: include/rsparallel/receive_job.hpp.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::OpenOnExit;
using rsp_test::scaled;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<rsp::JobId> ids_of(const std::vector<rsp::ReceivedJob>& jobs) {
  std::vector<rsp::JobId> ids;
  for (const auto& job : jobs) ids.push_back(job.id);
  return ids;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::filesystem::path temp_log(const std::string& stem) {
  auto path =
      std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".csv");
  std::filesystem::remove(path);
  return path;
}

}  // namespace

// Without wait: only the jobs finished now, in id order (they finish here in reverse order),
// removed from the registry; the unfinished ones stay.
TEST(ReceiveJob, WithoutWaitReturnsOnlyFinishedInIdOrderAndRemovesThem) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 6});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};

  // The four "done" jobs run at once and finish last input first.
  auto turn = std::make_shared<std::atomic<int>>(3);
  auto done = rsp::new_runspace_job(*pool, std::views::iota(0, 4),
                                    [turn](int i) {
                                      while (turn->load() != i) std::this_thread::yield();
                                      turn->fetch_sub(1);
                                      return i;
                                    },
                                    {.name = "done"});
  ASSERT_TRUE(done.wait_for(scaled(5s)));
  auto blocked = rsp::new_runspace_job(*pool, std::views::iota(0, 2),
                                       [gate](int i) {
                                         gate->wait();
                                         return i;
                                       },
                                       {.name = "blocked"});
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));
  EXPECT_EQ(pool->registry().size(), 6u);

  auto jobs = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(jobs.size(), 4u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].name, "done");
    EXPECT_EQ(jobs[i].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[i].input_index, i);
    EXPECT_EQ(jobs[i].output_as<int>(), std::vector<int>{static_cast<int>(i)});
    if (i > 0) {
      EXPECT_LT(jobs[i - 1].id, jobs[i].id);
    }
    EXPECT_FALSE(pool->registry().state(jobs[i].id).has_value());
  }
  EXPECT_EQ(pool->registry().size(), 2u);
  EXPECT_TRUE(rsp::receive_runspace_job(*pool).empty());  // nothing else has finished

  gate->open();
  ASSERT_TRUE(blocked.wait_for(scaled(5s)));
  auto rest = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].name, "blocked");
  EXPECT_EQ(pool->registry().size(), 0u);
}

// wait = true also waits for jobs of a lazily read range that do not exist yet when the receive
// starts: the jobs block until the receiver reports progress the first time.
TEST(ReceiveJob, WaitCoversJobsNotYetCreated) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 20), [gate](int i) {
    gate->wait();
    return i;
  });
  std::size_t created_while_waiting = 0;
  bool opened = false;
  auto jobs = rsp::receive_runspace_job(
      *pool, {.wait = true, .timeout = scaled(10s), .on_progress = [&](const rsp::Progress&) {
                if (opened) return;
                opened = true;
                created_while_waiting = batch.created();
                gate->open();
              }});
  EXPECT_TRUE(opened);
  EXPECT_LE(created_while_waiting, 2u);  // max_queue: the rest did not exist yet
  ASSERT_EQ(jobs.size(), 20u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].state, rsp::JobState::Completed);
    EXPECT_EQ(jobs[i].input_index, i);
  }
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(pool->registry().size(), 0u);
}

// A receive waiting on jobs that never finish gives up at its timeout with what has finished.
TEST(ReceiveJob, WaitTimeoutReturnsWhatHasFinished) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::new_runspace_job(*pool, std::views::iota(0, 6), [gate](int i) {
    if (i >= 3) gate->wait();
    return i;
  });
  // The quick ones finish first, so that the receive's own timeout is all this measures.
  ASSERT_TRUE(eventually([&] { return pool->registry().progress().completed == 3; }));
  auto start = Clock::now();
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = 200ms});
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);  // it did wait
  EXPECT_LT(elapsed, scaled(2s));
  ASSERT_EQ(jobs.size(), 3u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    EXPECT_LT(job.input_index, 3u);
  }
  EXPECT_EQ(pool->registry().size(), 3u);

  gate->open();
  auto rest = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(rest.size(), 3u);
  for (const auto& job : rest) EXPECT_GE(job.input_index, 3u);
}

// The streaming form gives up at its timeout too, returning the count handed over.
TEST(ReceiveJob, StreamingTimeoutReturnsWhatHasFinished) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::new_runspace_job(*pool, std::views::iota(0, 2), [gate](int i) {
    if (i == 1) gate->wait();
    return i;
  });
  // The quick one finishes first, so that the receive's own timeout is all this measures.
  ASSERT_TRUE(eventually([&] { return pool->registry().progress().completed == 1; }));
  std::vector<std::size_t> seen;
  auto start = Clock::now();
  std::size_t count = rsp::receive_runspace_job(
      *pool, {.timeout = 200ms}, [&](rsp::ReceivedJob& job) { seen.push_back(job.input_index); });
  EXPECT_LT(Clock::now() - start, scaled(2s));
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(seen, std::vector<std::size_t>{0});
}

// API.md: "timeout{0} = no limit", and that is the default: a receive waits as long as its jobs
// take unless the caller sets a limit.
TEST(ReceiveJob, TimeoutDefaultsToNoLimit) {
  EXPECT_EQ(rsp::ReceiveOptions{}.timeout, 0ms);
  EXPECT_EQ(rsp::ReceiveOptions{.wait = true}.timeout, 0ms);
}

// A receive whose own timeout cuts it short says so, without the caller counting jobs; the next
// one, which ends because everything finished, says it is complete.
TEST(ReceiveJob, StreamingResultTellsWhetherItWasCutShort) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::new_runspace_job(*pool, std::views::iota(0, 4), [gate](int i) {
    if (i == 3) gate->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return pool->registry().progress().completed == 3; }));
  rsp::ReceiveResult cut = rsp::receive_runspace_job(*pool, {.timeout = 100ms}, [](auto&&) {});
  EXPECT_EQ(cut.received, 3u);
  EXPECT_FALSE(cut.complete);
  std::size_t as_count = cut;  // existing callers that take a count keep compiling
  EXPECT_EQ(as_count, 3u);

  gate->open();
  rsp::ReceiveResult rest = rsp::receive_runspace_job(*pool, {}, [](auto&&) {});
  EXPECT_EQ(rest.received, 1u);
  EXPECT_TRUE(rest.complete);
  // Nothing left: complete at once, with nothing received.
  rsp::ReceiveResult none = rsp::receive_runspace_job(*pool, {.timeout = 100ms}, [](auto&&) {});
  EXPECT_EQ(none.received, 0u);
  EXPECT_TRUE(none.complete);
}

TEST(ReceiveJob, VectorResultTellsWhetherItWasCutShort) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::new_runspace_job(*pool, std::views::iota(0, 4), [gate](int i) {
    if (i == 3) gate->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return pool->registry().progress().completed == 3; }));
  rsp::ReceiveResult result;
  auto jobs = rsp::receive_runspace_job(*pool, {.wait = true, .timeout = 100ms}, result);
  EXPECT_EQ(jobs.size(), 3u);
  EXPECT_EQ(result.received, 3u);
  EXPECT_FALSE(result.complete);
  // Without wait: not complete while a matching job runs, even with nothing to take.
  jobs = rsp::receive_runspace_job(pool, {}, result);
  EXPECT_TRUE(jobs.empty());
  EXPECT_FALSE(result.complete);

  gate->open();
  jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(10s)}, result);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].input_index, 3u);
  EXPECT_EQ(result.received, 1u);
  EXPECT_TRUE(result.complete);
}

// "About 10 times a second": a streaming receive of a stream of small jobs must not call
// on_progress on every hand-over (it did about 1,300 times a second), and still reports once at
// the end with everything received.
TEST(ReceiveJob, OnProgressIsRateLimited) {
  constexpr int kJobs = 3000;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int i) {
    std::this_thread::sleep_for(500us);
    return i;
  });
  std::size_t calls = 0;
  rsp::Progress last;
  auto start = Clock::now();
  rsp::ReceiveResult result = rsp::receive_runspace_job(*pool,
                                                        {.on_progress =
                                                             [&](const rsp::Progress& p) {
                                                               ++calls;
                                                               last = p;
                                                             }},
                                                        [](rsp::ReceivedJob&&) {});
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(result.received, static_cast<std::size_t>(kJobs));
  EXPECT_TRUE(result.complete);
  EXPECT_GE(calls, 1u);
  // 10 a second, with room for a late wake-up: at most twice that, plus the last one.
  EXPECT_LE(static_cast<double>(calls), 2 + 20 * seconds)
      << calls << " calls in " << seconds << " s";
  EXPECT_EQ(last.received, static_cast<std::size_t>(kJobs));
  EXPECT_EQ(last.completed, static_cast<std::size_t>(kJobs));
}

TEST(ReceiveJob, FiltersByNameAndById) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto a =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; }, {.name = "a"});
  auto b = rsp::new_runspace_job(*pool, std::views::iota(10, 13), [](int i) { return i; },
                                 {.name = "b"});
  ASSERT_TRUE(a.wait_for(scaled(5s)));
  ASSERT_TRUE(b.wait_for(scaled(5s)));
  std::map<std::string, std::vector<rsp::JobId>> ids;
  for (const auto& job : rsp::receive_runspace_job(*pool, {.keep = true})) {
    ids[job.name].push_back(job.id);
  }
  ASSERT_EQ(ids["a"].size(), 3u);
  ASSERT_EQ(ids["b"].size(), 3u);

  // By id alone.
  auto one = rsp::receive_runspace_job(*pool, {.id = ids["b"][0]});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, ids["b"][0]);
  EXPECT_EQ(one[0].output_as<int>(), std::vector<int>{10});
  // Name and id that do not belong together match nothing, and take nothing.
  EXPECT_TRUE(rsp::receive_runspace_job(*pool, {.name = "a", .id = ids["b"][1]}).empty());
  EXPECT_EQ(pool->registry().size(), 5u);
  // Both, matching.
  auto both = rsp::receive_runspace_job(*pool, {.name = "b", .id = ids["b"][1]});
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].id, ids["b"][1]);
  // By name alone.
  auto named = rsp::receive_runspace_job(*pool, {.name = "a"});
  EXPECT_EQ(ids_of(named), ids["a"]);
  for (const auto& job : named) EXPECT_EQ(job.name, "a");
  EXPECT_EQ(pool->registry().size(), 1u);
  EXPECT_TRUE(rsp::receive_runspace_job(*pool, {.name = "nobody", .wait = true}).empty());
  EXPECT_EQ(ids_of(rsp::receive_runspace_job(*pool)), std::vector<rsp::JobId>{ids["b"][2]});
}

// wait with an id waits for that job (blocked until the receiver's first progress report) and
// not for the others.
TEST(ReceiveJob, WaitByIdWaitsForThatJobOnly) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto never = std::make_shared<Gate>();
  auto later = std::make_shared<Gate>();
  OpenOnExit release_never{*never};
  OpenOnExit release_later{*later};
  rsp::JobId first = pool->registry().next_id();
  rsp::new_runspace_job(*pool, std::views::iota(0, 2), [never, later](int i) {
    (i == 0 ? never : later)->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));
  auto start = Clock::now();
  auto jobs = rsp::receive_runspace_job(
      *pool, {.id = first + 1,
              .wait = true,
              .timeout = scaled(10s),
              .on_progress = [&](const rsp::Progress&) { later->open(); }});
  EXPECT_LT(Clock::now() - start, scaled(2s));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, first + 1);
  EXPECT_EQ(jobs[0].state, rsp::JobState::Completed);
  EXPECT_EQ(pool->registry().state(first), rsp::JobState::Running);
}

TEST(ReceiveJob, KeepLeavesJobsForTheNextReceive) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 5), [](int i, rsp::JobContext& ctx) {
    ctx.write_warning("w" + std::to_string(i));
    return i * 3;
  });
  auto kept =
      rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s), .keep = true});
  ASSERT_EQ(kept.size(), 5u);
  EXPECT_EQ(pool->registry().size(), 5u);
  for (const auto& job : kept) EXPECT_EQ(pool->registry().state(job.id), rsp::JobState::Completed);

  auto again = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(again.size(), 5u);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].id, kept[i].id);
    EXPECT_EQ(again[i].output_as<int>(), kept[i].output_as<int>());
    EXPECT_EQ(again[i].output_as<int>(), std::vector<int>{static_cast<int>(i) * 3});
    EXPECT_EQ(again[i].warnings, std::vector<std::string>{"w" + std::to_string(i)});
  }
  EXPECT_EQ(pool->registry().size(), 0u);
  EXPECT_TRUE(rsp::receive_runspace_job(*pool).empty());
}

// A streaming receive with keep hands each job over once, and leaves them all for later.
TEST(ReceiveJob, StreamingKeepHandsEachJobOnceAndLeavesThem) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 30), [](int i) { return i; });
  std::vector<rsp::JobId> seen;
  std::size_t count =
      rsp::receive_runspace_job(*pool, {.timeout = scaled(10s), .keep = true},
                                [&](const rsp::ReceivedJob& job) { seen.push_back(job.id); });
  EXPECT_EQ(count, 30u);
  EXPECT_EQ(std::set<rsp::JobId>(seen.begin(), seen.end()).size(), 30u);
  EXPECT_EQ(pool->registry().size(), 30u);
  EXPECT_EQ(rsp::receive_runspace_job(*pool).size(), 30u);
}

TEST(ReceiveJob, NegativeTimeoutThrowsNamingTheOption) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  auto expect_rejected = [](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("ReceiveOptions::timeout"), std::string::npos) << message;
      EXPECT_NE(message.find("-5"), std::string::npos) << message;
    }
  };
  expect_rejected([&] { rsp::receive_runspace_job(*pool, {.timeout = -5ms}); });
  expect_rejected([&] { rsp::receive_runspace_job(pool, {.wait = true, .timeout = -5ms}); });
  expect_rejected([&] { rsp::receive_runspace_job(pool->registry(), {.timeout = -5ms}); });
  expect_rejected(
      [&] { rsp::receive_runspace_job(*pool, {.timeout = -5ms}, [](rsp::ReceivedJob) {}); });
  expect_rejected([&] {
    rsp::receive_runspace_job(pool->registry(), {.timeout = -5ms}, [](rsp::ReceivedJob&) {});
  });
  EXPECT_THROW(rsp::validate(rsp::ReceiveOptions{.timeout = -1ms}), std::invalid_argument);
  EXPECT_NO_THROW(rsp::validate(rsp::ReceiveOptions{.timeout = scaled(0ms)}));
}

// on_progress: called while waiting (before anything finished) and once at the end, when the
// counts add up and count what this call received.
TEST(ReceiveJob, OnProgressWhileWaitingAndAtTheEnd) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::new_runspace_job(*pool, std::views::iota(0, 10), [gate](int i) {
    gate->wait();
    if (i == 7) throw std::runtime_error("seven");
    return i;
  });
  std::vector<rsp::Progress> reports;
  auto jobs = rsp::receive_runspace_job(
      *pool, {.wait = true, .timeout = scaled(10s), .on_progress = [&](const rsp::Progress& p) {
                reports.push_back(p);
                gate->open();  // the first report comes while every job waits at the gate
              }});
  ASSERT_EQ(jobs.size(), 10u);
  ASSERT_GE(reports.size(), 2u);
  const rsp::Progress& first = reports.front();
  EXPECT_EQ(first.total, 10u);
  EXPECT_EQ(first.finished(), 0u);
  EXPECT_EQ(first.received, 0u);
  EXPECT_LE(first.running, 2u);
  const rsp::Progress& last = reports.back();
  EXPECT_EQ(last.total, 10u);
  EXPECT_EQ(last.completed, 9u);
  EXPECT_EQ(last.failed, 1u);
  EXPECT_EQ(last.stopped + last.timed_out + last.running + last.not_started, 0u);
  EXPECT_EQ(last.total, last.not_started + last.running + last.finished());
  EXPECT_EQ(last.received, 10u);
  EXPECT_GT(last.elapsed, first.elapsed);
}

// The streaming form reports progress too, ending with every job received.
TEST(ReceiveJob, StreamingOnProgressEndsWithEverythingReceived) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 50), [](int i) { return i; });
  std::vector<rsp::Progress> reports;
  std::size_t count = rsp::receive_runspace_job(
      *pool,
      {.timeout = scaled(10s),
       .on_progress = [&](const rsp::Progress& p) { reports.push_back(p); }},
      [](rsp::ReceivedJob&&) {});
  EXPECT_EQ(count, 50u);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().total, 50u);
  EXPECT_EQ(reports.back().completed, 50u);
  EXPECT_EQ(reports.back().received, 50u);
}

namespace {
// Streams a fresh batch of 40 through `callback` and checks each job came once.
template <class Callback>
void stream_with(Callback callback, std::vector<int>& outputs) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 40), [](int i) { return i; });
  std::size_t count = rsp::receive_runspace_job(*pool, {.timeout = scaled(10s)}, callback);
  EXPECT_EQ(count, 40u);
  std::sort(outputs.begin(), outputs.end());
  std::vector<int> expected(40);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(outputs, expected);
  EXPECT_EQ(pool->registry().size(), 0u);
}
}  // namespace

TEST(ReceiveJob, StreamingAcceptsEveryCallbackForm) {
  {
    std::vector<int> outputs;
    stream_with([&](rsp::ReceivedJob job) { outputs.push_back(job.output_as<int>().at(0)); },
                outputs);
  }
  {
    std::vector<int> outputs;
    stream_with(
        [&](rsp::ReceivedJob&& job) {
          rsp::ReceivedJob mine = std::move(job);
          outputs.push_back(mine.output_as<int>().at(0));
        },
        outputs);
  }
  {
    std::vector<int> outputs;
    stream_with([&](rsp::ReceivedJob& job) { outputs.push_back(job.output_as<int>().at(0)); },
                outputs);
  }
  {
    std::vector<int> outputs;
    stream_with([&](const rsp::ReceivedJob& job) { outputs.push_back(job.output_as<int>().at(0)); },
                outputs);
  }
  {
    std::vector<int> outputs;
    rsp::ReceiveCallback typed = [&](rsp::ReceivedJob& job) {
      outputs.push_back(job.output_as<int>().at(0));
    };
    stream_with(typed, outputs);
  }
}

// 200,000 inputs through max_queue 16, streamed to a consumer that now and then pauses (a
// flush to disk, say). The contract: with the streaming form "memory stays bounded by max_queue
// however many inputs there are". The bound checked, max_queue + max_unreceived, is what the
// registry may hold while the callback runs: at most max_queue jobs unfinished (the feeder never
// creates more) plus at most max_unreceived finished ones waiting for the receiver's next take
// (jobs of the take being handed over have already left the registry). A consumer slower than
// the runspaces is exactly the case the bound exists for. Checked with the default backlog
// (max(max_queue, 256)) and with the tightest one a user can ask for (max_queue).
TEST(ReceiveJob, StreamingKeepsRegistryBoundedByMaxQueue) {
  constexpr std::size_t kMaxQueue = 16;
  for (std::size_t unreceived : {std::size_t{0}, kMaxQueue}) {
    SCOPED_TRACE("max_unreceived " + std::to_string(unreceived));
    auto pool = rsp::new_runspace_pool(
        {.max_runspaces = 2, .max_queue = kMaxQueue, .max_unreceived = unreceived});
    const std::size_t bound = kMaxQueue + (unreceived == 0 ? 256 : unreceived);
    ASSERT_EQ(pool->options().max_unreceived, bound - kMaxQueue);
    auto batch =
        rsp::new_runspace_job(*pool, std::views::iota(0, 200'000), [](int i) { return i; });
    std::size_t largest = 0;
    std::size_t handed = 0;
    std::size_t count =
        rsp::receive_runspace_job(*pool, {.timeout = scaled(60s)}, [&](rsp::ReceivedJob&&) {
          largest = std::max(largest, pool->registry().size());
          if (++handed % 2'000 == 0) std::this_thread::sleep_for(2ms);  // the consumer's work
        });
    EXPECT_EQ(count, 200'000u);
    EXPECT_LE(largest, bound);
    EXPECT_TRUE(batch.done());
    EXPECT_EQ(pool->registry().size(), 0u);
  }
}

// A streaming receiver holds on for a group of finished jobs (up to 0.5 ms), but not once its
// batch's backlog is half way to max_unreceived: with a small backlog the feed pauses there, so
// holding on would stall every round of a few jobs for the whole 0.5 ms (20,000 jobs: 1.25 s
// or more).
TEST(ReceiveJob, SmallBacklogDoesNotStallTheStream) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 4, .max_unreceived = 4});
  constexpr int kJobs = 20'000;
  auto started = std::chrono::steady_clock::now();
  rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int i) { return i; });
  std::size_t count =
      rsp::receive_runspace_job(*pool, {.timeout = scaled(60s)}, [](rsp::ReceivedJob&&) {});
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(count, static_cast<std::size_t>(kJobs));
  EXPECT_LT(took, scaled(1s)) << "the receiver held on while the feed was paused for it";
}

namespace {
struct Boom {};
}  // namespace

// A callback that throws: the exception comes out of receive_runspace_job, the job it was
// handed and those not yet handed go back unreceived and intact, and no job is lost or doubled.
TEST(ReceiveJob, ThrowingCallbackPutsJobsBack) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 10), [](int i) { return i * 7; },
                                     {.name = "t"});
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  std::vector<rsp::JobId> handed;
  int calls = 0;
  EXPECT_THROW(rsp::receive_runspace_job(*pool, {.timeout = scaled(10s)},
                                         [&](rsp::ReceivedJob job) {  // by value: moved from
                                           if (++calls == 3) throw Boom{};
                                           handed.push_back(job.id);
                                         }),
               Boom);
  ASSERT_EQ(handed.size(), 2u);
  EXPECT_EQ(pool->registry().size(), 8u);

  auto rest = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(rest.size(), 8u);
  std::set<rsp::JobId> all(handed.begin(), handed.end());
  for (const auto& job : rest) {
    EXPECT_TRUE(all.insert(job.id).second) << "job " << job.id << " received twice";
    // Handed back as it was: the callback's by-value parameter did not take its data.
    EXPECT_EQ(job.name, "t");
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    EXPECT_EQ(job.output_as<int>(), std::vector<int>{static_cast<int>(job.input_index) * 7});
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(pool->registry().size(), 0u);
}

// The same with a callback by reference, and the registry overload: the thrown-on job is the
// first one a later receive gets.
TEST(ReceiveJob, ThrowingReferenceCallbackPutsJobsBack) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 6), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  rsp::JobId thrown_on = 0;
  EXPECT_THROW(rsp::receive_runspace_job(pool->registry(), {.timeout = scaled(10s)},
                                         [&](const rsp::ReceivedJob& job) {
                                           thrown_on = job.id;
                                           throw std::runtime_error("consumer failed");
                                         }),
               std::runtime_error);
  EXPECT_EQ(pool->registry().size(), 6u);
  auto rest = rsp::receive_runspace_job(*pool);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front().id, thrown_on);
  EXPECT_EQ(rest.back().output_as<int>(), std::vector<int>{5});
}

// Two streaming receivers on two threads: every job goes to exactly one of them.
TEST(ReceiveJob, TwoStreamingReceiversShareTheJobs) {
  constexpr int kJobs = 20'000;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 64});
  rsp::JobId first = pool->registry().next_id();
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, kJobs), [](int i) { return i; });
  std::vector<rsp::JobId> ids[2];
  std::size_t counts[2] = {0, 0};
  auto receiver = [&](int which) {
    counts[which] =
        rsp::receive_runspace_job(*pool, {.timeout = scaled(30s)},
                                  [&](rsp::ReceivedJob& job) { ids[which].push_back(job.id); });
  };
  std::thread one(receiver, 0);
  std::thread two(receiver, 1);
  one.join();
  two.join();
  EXPECT_EQ(counts[0], ids[0].size());
  EXPECT_EQ(counts[1], ids[1].size());
  std::set<rsp::JobId> a(ids[0].begin(), ids[0].end());
  std::set<rsp::JobId> b(ids[1].begin(), ids[1].end());
  EXPECT_EQ(a.size(), ids[0].size()) << "a receiver got a job twice";
  EXPECT_EQ(b.size(), ids[1].size()) << "a receiver got a job twice";
  std::vector<rsp::JobId> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  EXPECT_TRUE(common.empty()) << common.size() << " jobs went to both receivers";
  std::set<rsp::JobId> all = a;
  all.insert(b.begin(), b.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(*all.begin(), first);
  EXPECT_EQ(*all.rbegin(), first + kJobs - 1);
  EXPECT_TRUE(batch.done());
  EXPECT_EQ(pool->registry().size(), 0u);
}

// Two pools on one registry: given a pool, only its jobs; given the registry, both.
TEST(ReceiveJob, PoolSeesOnlyItsJobsRegistrySeesAll) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto fast = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto slow = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto f = rsp::new_runspace_job(*fast, std::views::iota(0, 4), [](int i) { return i; },
                                 {.name = "fast"});
  auto s = rsp::new_runspace_job(*slow, std::views::iota(0, 3),
                                 [gate](int i) {
                                   gate->wait();
                                   return i;
                                 },
                                 {.name = "slow"});
  // Waiting on the fast pool does not wait for the slow pool's blocked jobs.
  auto start = Clock::now();
  auto mine = rsp::receive_runspace_job(*fast, {.wait = true, .timeout = scaled(10s)});
  EXPECT_LT(Clock::now() - start, scaled(2s));
  ASSERT_EQ(mine.size(), 4u);
  for (const auto& job : mine) EXPECT_EQ(job.name, "fast");
  // The slow pool's three jobs stay held (its feeder may still be registering the last one).
  eventually([&] { return registry->size() >= 3u; }, 2s);
  EXPECT_EQ(registry->size(), 3u);

  gate->open();
  ASSERT_TRUE(s.wait_for(scaled(5s)));
  EXPECT_TRUE(rsp::receive_runspace_job(*fast).empty());
  std::size_t streamed = rsp::receive_runspace_job(
      *fast, {.timeout = scaled(5s)},
      [](rsp::ReceivedJob&) { ADD_FAILURE() << "the fast pool has no job left"; });
  EXPECT_EQ(streamed, 0u);

  // Both pools again; the registry overloads take both.
  rsp::new_runspace_job(*fast, std::views::iota(0, 2), [](int i) { return i; }, {.name = "fast"});
  auto all = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(10s)});
  std::map<std::string, int> per_name;
  for (const auto& job : all) ++per_name[job.name];
  EXPECT_EQ(per_name["fast"], 2);
  EXPECT_EQ(per_name["slow"], 3);
  EXPECT_EQ(registry->size(), 0u);

  rsp::new_runspace_job(*fast, std::views::iota(0, 2), [](int i) { return i; }, {.name = "fast"});
  rsp::new_runspace_job(*slow, std::views::iota(0, 3), [](int i) { return i; }, {.name = "slow"});
  per_name.clear();
  std::size_t count = rsp::receive_runspace_job(
      *registry, {.timeout = scaled(10s)}, [&](rsp::ReceivedJob& job) { ++per_name[job.name]; });
  EXPECT_EQ(count, 5u);
  EXPECT_EQ(per_name["fast"], 2);
  EXPECT_EQ(per_name["slow"], 3);
}

// log_file: a header and one row per received job, in both forms (the format is tested
// elsewhere in depth).
TEST(ReceiveJob, LogFileGetsHeaderAndOneRowPerJob) {
  auto path = temp_log("rsp_receive_log");
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; }, {.name = "logged"});
  auto jobs =
      rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s), .log_file = path});
  ASSERT_EQ(jobs.size(), 3u);
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("id,name,state,", 0), 0u) << lines[0];
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(lines[i + 1].rfind(std::to_string(jobs[i].id) + ",logged,Completed,", 0), 0u)
        << lines[i + 1];
  }

  // The streaming form appends to the same file without a second header.
  rsp::new_runspace_job(*pool, std::views::iota(0, 2), [](int i) { return i; },
                        {.name = "streamed"});
  std::size_t count = rsp::receive_runspace_job(*pool, {.timeout = scaled(10s), .log_file = path},
                                                [](rsp::ReceivedJob&) {});
  EXPECT_EQ(count, 2u);
  lines = read_lines(path);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines[4].find(",streamed,Completed,"), std::string::npos) << lines[4];
  EXPECT_NE(lines[5].find(",streamed,Completed,"), std::string::npos) << lines[5];
  std::filesystem::remove(path);
}
