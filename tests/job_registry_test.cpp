// The shared job store: include/rsparallel/job_registry.hpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <ranges>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::eventually;
using rsp_test::Gate;
using rsp_test::OpenOnExit;
using rsp_test::scaled;

using Clock = std::chrono::steady_clock;

TEST(JobRegistry, FreshRegistryIsEmptyAndStartsAtIdOne) {
  rsp::JobRegistry registry;
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.next_id(), 1u);
  EXPECT_FALSE(registry.state(1).has_value());
  rsp::Progress progress = registry.progress();
  EXPECT_EQ(progress.total, 0u);
  EXPECT_EQ(progress.finished() + progress.running + progress.not_started + progress.received, 0u);
}

// size() counts jobs held in any state until they are received or cleared.
TEST(JobRegistry, SizeCountsHeldJobs) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
  EXPECT_EQ(&pool->registry(), registry.get());
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto done = rsp::new_runspace_job(*pool, std::views::iota(0, 5), [](int i) { return i; });
  ASSERT_TRUE(done.wait_for(scaled(5s)));
  EXPECT_EQ(registry->size(), 5u);
  rsp::new_runspace_job(*pool, std::views::iota(0, 3), [gate](int i) {
    gate->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return registry->size() == 8u; }));  // running and not started too

  EXPECT_EQ(rsp::receive_runspace_job(*registry, {.id = 1}).size(), 1u);
  EXPECT_EQ(registry->size(), 7u);
  EXPECT_EQ(rsp::receive_runspace_job(*registry, {.id = 2, .keep = true}).size(), 1u);
  EXPECT_EQ(registry->size(), 7u);
  EXPECT_EQ(rsp::clear_runspace_jobs(*registry), 4u);
  EXPECT_EQ(registry->size(), 3u);
  gate->open();
  EXPECT_EQ(rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(10s)}).size(),
            3u);
  EXPECT_EQ(registry->size(), 0u);
}

// state(id) follows a job: NotStarted, Running, Completed (or Failed), and nothing once
// received.
TEST(JobRegistry, StateThroughAJobsLife) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .registry = registry});
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [gate](int i) {
    if (i == 0) gate->wait();
    if (i == 2) throw std::runtime_error("two");
    return i;
  });
  ASSERT_TRUE(eventually([&] { return batch.created() == 3; }));
  ASSERT_TRUE(eventually([&] { return registry->state(1) == rsp::JobState::Running; }));
  EXPECT_EQ(registry->state(2), rsp::JobState::NotStarted);
  EXPECT_EQ(registry->state(3), rsp::JobState::NotStarted);
  EXPECT_FALSE(registry->state(4).has_value());  // never created
  EXPECT_FALSE(registry->state(0).has_value());

  gate->open();
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  EXPECT_EQ(registry->state(1), rsp::JobState::Completed);
  EXPECT_EQ(registry->state(2), rsp::JobState::Completed);
  EXPECT_EQ(registry->state(3), rsp::JobState::Failed);

  rsp::receive_runspace_job(*registry, {.id = 1});
  EXPECT_FALSE(registry->state(1).has_value());
  EXPECT_EQ(registry->state(2), rsp::JobState::Completed);  // others untouched
  rsp::receive_runspace_job(*registry, {.id = 2, .keep = true});
  EXPECT_EQ(registry->state(2), rsp::JobState::Completed);  // kept
  rsp::clear_runspace_jobs(*registry);
  EXPECT_FALSE(registry->state(2).has_value());
  EXPECT_FALSE(registry->state(3).has_value());
}

// next_id(): the id the next job gets; ids are never reused after receive or clear.
TEST(JobRegistry, NextIdAndIdsNeverReused) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobRegistry& registry = pool->registry();
  EXPECT_EQ(registry.next_id(), 1u);
  auto batch = rsp::new_runspace_job(*pool, std::views::iota(0, 7), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  EXPECT_EQ(registry.next_id(), 8u);
  auto jobs = rsp::receive_runspace_job(registry);
  ASSERT_EQ(jobs.size(), 7u);
  EXPECT_EQ(jobs.front().id, 1u);
  EXPECT_EQ(jobs.back().id, 7u);
  EXPECT_EQ(registry.next_id(), 8u);  // emptied, still counting on

  rsp::new_runspace_job(*pool, std::views::iota(0, 2), [](int i) { return i; });
  auto more = rsp::receive_runspace_job(registry, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].id, 8u);
  EXPECT_EQ(more[1].id, 9u);
  EXPECT_EQ(registry.next_id(), 10u);
}

// progress(): counts by state over the batches the registry tracks, received counted.
TEST(JobRegistry, ProgressCounts) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobRegistry& registry = pool->registry();
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  auto ok = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) {
    if (i == 1) throw std::runtime_error("one");
    return i;
  });
  ASSERT_TRUE(ok.wait_for(scaled(5s)));
  auto blocked = rsp::new_runspace_job(*pool, std::views::iota(0, 2), [gate](int i) {
    gate->wait();
    return i;
  });
  ASSERT_TRUE(eventually([&] { return pool->busy_runspaces() == 2; }));
  auto later = rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  ASSERT_TRUE(eventually([&] { return later.created() == 3; }));
  ASSERT_EQ(rsp::receive_runspace_job(registry, {.id = 1}).size(), 1u);

  rsp::Progress p = registry.progress();
  EXPECT_EQ(p.total, 8u);
  EXPECT_EQ(p.completed, 2u);
  EXPECT_EQ(p.failed, 1u);
  EXPECT_EQ(p.running, 2u);
  EXPECT_EQ(p.not_started, 3u);
  EXPECT_EQ(p.stopped + p.timed_out, 0u);
  EXPECT_EQ(p.received, 1u);
  EXPECT_EQ(p.total, p.not_started + p.running + p.finished());

  gate->open();
  ASSERT_TRUE(blocked.wait_for(scaled(5s)));
  ASSERT_TRUE(later.wait_for(scaled(5s)));
  rsp::Progress end = registry.progress();
  EXPECT_EQ(end.total, 8u);
  EXPECT_EQ(end.completed, 7u);
  EXPECT_EQ(end.failed, 1u);
  EXPECT_EQ(end.running + end.not_started, 0u);
  EXPECT_EQ(end.received, 1u);
  EXPECT_GE(end.elapsed, p.elapsed);
}

// A registry shared by pools outlives them: after the pools are gone their jobs are still there
// to receive, the queued ones Stopped, and the registry takes new pools.
TEST(JobRegistry, OutlivesThePoolsThatShareIt) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto gate = std::make_shared<Gate>();
  OpenOnExit release{*gate};
  rsp::JobBatch cut_short;
  {
    auto busy = rsp::new_runspace_pool(
        {.max_runspaces = 1, .max_queue = 3, .stop_grace = 500ms, .registry = registry});
    auto finished = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
    ASSERT_TRUE(rsp::new_runspace_job(*finished, std::views::iota(0, 2), [](int i) { return i; },
                                      {.name = "finished"})
                    .wait_for(scaled(5s)));
    cut_short = rsp::new_runspace_job(*busy, std::views::iota(0, 10),
                                      [gate](int i) {
                                        gate->wait();  // wakes at the pool's interrupt
                                        return i;
                                      },
                                      {.name = "cut"});
    ASSERT_TRUE(
        eventually([&] { return cut_short.created() == 3 && busy->busy_runspaces() == 1; }));
  }  // both pools destroyed here
  EXPECT_TRUE(cut_short.done());
  EXPECT_EQ(registry->size(), 5u);

  auto finished = rsp::receive_runspace_job(*registry, {.name = "finished"});
  ASSERT_EQ(finished.size(), 2u);
  for (const auto& job : finished) EXPECT_EQ(job.state, rsp::JobState::Completed);
  auto cut =
      rsp::receive_runspace_job(*registry, {.name = "cut", .wait = true, .timeout = scaled(5s)});
  ASSERT_EQ(cut.size(), 3u);  // the running one and the two queued; the rest were never created
  for (const auto& job : cut) EXPECT_EQ(job.state, rsp::JobState::Stopped) << job.input_index;
  EXPECT_EQ(registry->size(), 0u);

  // A new pool on the same registry; ids go on from where they were.
  rsp::JobId next = registry->next_id();
  auto fresh = rsp::new_runspace_pool({.max_runspaces = 1, .registry = registry});
  rsp::new_runspace_job(*fresh, std::views::iota(0, 2), [](int i) { return i; });
  auto jobs = rsp::receive_runspace_job(*registry, {.wait = true, .timeout = scaled(10s)});
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, next);
}

// The registry's last user may be a pool: the registry lives as long as a pool holds it, and
// goes with it.
TEST(JobRegistry, PoolKeepsItsRegistryAlive) {
  auto registry = std::make_shared<rsp::JobRegistry>();
  std::weak_ptr<rsp::JobRegistry> weak = registry;
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1, .registry = std::move(registry)});
  EXPECT_FALSE(weak.expired());
  rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  EXPECT_EQ(rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(10s)}).size(), 3u);
  EXPECT_EQ(pool->shared_registry().get(), weak.lock().get());
  pool.reset();
  // Released once the pool's last internal task is done: not leaked.
  EXPECT_TRUE(eventually([&] { return weak.expired(); }, 2s));
}

// Several threads at once: two create batches on two pools sharing the registry while a third
// receives and a fourth reads size(), state() and progress(). Every job arrives once, Completed.
TEST(JobRegistry, ConcurrentUseFromSeveralThreads) {
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 100;
  auto registry = std::make_shared<rsp::JobRegistry>();
  auto a = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 8, .registry = registry});
  auto b = rsp::new_runspace_pool({.max_runspaces = 2, .max_queue = 8, .registry = registry});
  std::atomic<int> producers_left{2};
  std::vector<rsp::JobBatch> batches[2];
  auto producer = [&](rsp::RunspacePool& pool, int which) {
    for (int n = 0; n < kBatches; ++n) {
      batches[which].push_back(rsp::new_runspace_job(
          pool, std::views::iota(0, kPerBatch), [which](int i) { return which * 1'000'000 + i; },
          {.name = which == 0 ? "a" : "b"}));
    }
    --producers_left;
  };
  std::vector<rsp::ReceivedJob> received;
  std::thread receiver([&] {
    auto deadline = Clock::now() + scaled(20s);
    while (Clock::now() < deadline) {
      bool last_round = producers_left.load() == 0;
      auto jobs =
          rsp::receive_runspace_job(*registry, {.wait = last_round, .timeout = scaled(10s)});
      for (auto& job : jobs) received.push_back(std::move(job));
      if (last_round) break;
      std::this_thread::yield();
    }
  });
  std::atomic<bool> stop_reader{false};
  std::thread reader([&] {
    while (!stop_reader.load()) {
      (void)registry->size();
      (void)registry->state(registry->next_id() / 2 + 1);
      rsp::Progress p = registry->progress();
      EXPECT_LE(p.received, p.total);
      std::this_thread::yield();
    }
  });
  std::thread one(producer, std::ref(*a), 0);
  std::thread two(producer, std::ref(*b), 1);
  one.join();
  two.join();
  receiver.join();
  stop_reader = true;
  reader.join();

  ASSERT_EQ(received.size(), static_cast<std::size_t>(2 * kBatches * kPerBatch));
  std::set<rsp::JobId> ids;
  std::set<int> outputs;
  for (const auto& job : received) {
    EXPECT_TRUE(ids.insert(job.id).second) << "job " << job.id << " received twice";
    EXPECT_EQ(job.state, rsp::JobState::Completed);
    outputs.insert(job.output_as<int>().at(0));
  }
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), static_cast<rsp::JobId>(2 * kBatches * kPerBatch));
  EXPECT_EQ(outputs.size(), static_cast<std::size_t>(2 * kPerBatch));  // each input of each pool
  for (auto& list : batches) {
    for (auto& batch : list) EXPECT_TRUE(batch.done());
  }
  EXPECT_EQ(registry->size(), 0u);
}
