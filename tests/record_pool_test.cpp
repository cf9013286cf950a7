// The job-record pool (lib/detail/record_pool.hpp): records freed on one thread serve another's
// allocations, and what is kept for reuse stays bounded.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "detail/record_pool.hpp"

namespace {

using rsp::detail::JobPtr;
using rsp::detail::kMaxDepotGroups;
using rsp::detail::kRecordGroup;
using rsp::detail::make_job_record;
using rsp::detail::pooled_record_blocks;
using rsp::detail::record_pool_enabled;

constexpr std::size_t kMostKept = (kMaxDepotGroups + 2) * kRecordGroup;

std::vector<JobPtr> make_records(std::size_t n) {
  std::vector<JobPtr> records;
  for (std::size_t i = 0; i < n; ++i) records.push_back(make_job_record());
  return records;
}

std::set<const void*> addresses(const std::vector<JobPtr>& records) {
  std::set<const void*> found;
  for (const JobPtr& record : records) found.insert(record.get());
  return found;
}

TEST(RecordPool, ARecordIsUsableAndFreshlyInitialised) {
  JobPtr record = make_job_record();
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->id, 0u);
  EXPECT_EQ(record->state.load(), rsp::JobState::NotStarted);
  EXPECT_TRUE(record->data.output.empty());
  EXPECT_FALSE(record->published);
  std::weak_ptr<rsp::detail::JobRecord> watcher = record;
  record->data.name = "a name long enough to need the heap, not the small buffer";
  record.reset();
  EXPECT_TRUE(watcher.expired());
  // A reused block is constructed afresh: nothing of the record before shows through.
  JobPtr next = make_job_record();
  EXPECT_TRUE(next->data.name.empty());
}

// The runspace that feeds makes records and the receiving thread frees them: freed blocks must
// reach the making thread, or the pool would only ever grow on one side.
TEST(RecordPool, RecordsFreedOnOneThreadServeAnother) {
  if (!record_pool_enabled()) {
    // AddressSanitizer builds: every record goes to operator new/delete so that ASan sees a use
    // after free; nothing is kept.
    std::thread([] { make_records(4 * kRecordGroup); }).join();
    EXPECT_EQ(pooled_record_blocks(), 0u);
    return;
  }
  // Empty the pool first (earlier tests in this process may have filled it), by holding on to
  // as many records as it could keep.
  std::vector<JobPtr> drained = make_records(kMostKept);
  ASSERT_EQ(pooled_record_blocks(), 0u);
  std::vector<JobPtr> records = make_records(4 * kRecordGroup);
  std::set<const void*> made = addresses(records);
  // Freed on another thread, which then ends: its whole groups go to the shared depot.
  std::thread([moved = std::move(records)]() mutable { moved.clear(); }).join();
  EXPECT_EQ(pooled_record_blocks(), 4 * kRecordGroup);
  std::vector<JobPtr> again = make_records(2 * kRecordGroup);
  for (const JobPtr& record : again) {
    EXPECT_TRUE(made.contains(record.get())) << "a record did not come from the freed ones";
  }
  EXPECT_EQ(pooled_record_blocks(), 2 * kRecordGroup);
}

TEST(RecordPool, WhatIsKeptForReuseIsBounded) {
  std::thread([] {
    // A burst far over the bound, freed at once on this thread.
    std::vector<JobPtr> burst = make_records(10 * kMostKept);
    burst.clear();
    EXPECT_LE(pooled_record_blocks(), kMostKept);
    if (record_pool_enabled()) EXPECT_GE(pooled_record_blocks(), kRecordGroup);
  }).join();
  EXPECT_LE(pooled_record_blocks(), kMostKept);
}

TEST(RecordPool, ManyThreadsMakingAndFreeingAtOnceLoseNothing) {
  // Under ThreadSanitizer this checks the depot hands blocks over with the needed ordering.
  constexpr int kThreads = 4;
  constexpr std::size_t kRounds = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (std::size_t round = 0; round < kRounds; ++round) {
        std::vector<JobPtr> records = make_records(kRecordGroup + round % 7);
        for (std::size_t i = 0; i < records.size(); ++i) {
          records[i]->input_index = i + static_cast<std::size_t>(t) * 1000;
        }
        for (std::size_t i = 0; i < records.size(); ++i) {
          ASSERT_EQ(records[i]->input_index, i + static_cast<std::size_t>(t) * 1000);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(pooled_record_blocks(), kMostKept);
}

// A thread_local destroyed after the pool's own per-thread state may still free a record.
TEST(RecordPool, ARecordFreedWhileItsThreadEndsIsReleased) {
  struct LateHolder {
    JobPtr record;
  };
  std::weak_ptr<rsp::detail::JobRecord> watcher;
  std::thread([&] {
    // Constructed before the pool's state for this thread, so destroyed after it.
    static thread_local LateHolder holder;
    holder.record = make_job_record();
    watcher = holder.record;
    make_job_record().reset();  // the pool's per-thread state now exists
  }).join();
  EXPECT_TRUE(watcher.expired());
}

}  // namespace
