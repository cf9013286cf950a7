// The shared state of one new_runspace_job call: its feed, its counters and its done signal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "detail/job_record.hpp"
#include "detail/mutex.hpp"
#include "rsparallel/options.hpp"

namespace rsp::detail {

class PoolCore;
class RegistryCore;

class BatchCore {
 public:
  BatchCore(std::string name, JobOptions options, std::size_t slice,
            std::optional<std::size_t> input_count, std::size_t max_unreceived,
            std::shared_ptr<PoolCore> pool, const std::shared_ptr<RegistryCore>& registry,
            std::shared_ptr<void> script, std::unique_ptr<InputFeed> feed);

  // Immutable after construction.
  const std::string name;
  const JobOptions options;
  const std::size_t slice;
  const std::optional<std::size_t> expected_jobs;
  const std::size_t max_unreceived;     // the pool's
  const PoolCore* const pool_identity;  // for filtering; never dereferenced
  const std::weak_ptr<PoolCore> pool;
  const std::weak_ptr<RegistryCore> registry;  // weak: the registry holds its batches

  // Read and changed only by the one thread reading the range at a time: a feed round under
  // JobFactory::feed_mutex_, or the batch's own stream reader.
  std::size_t inputs_pulled = 0;
  std::unique_ptr<InputFeed>& feed() { return feed_; }

  // Counters; `unfinished` is raised before a job is published anywhere.
  std::atomic<bool> stop_requested{false};
  std::atomic<std::size_t> created{0}, unfinished{0}, running{0};
  std::atomic<std::size_t> completed{0}, failed{0}, stopped{0}, timed_out{0}, received{0};
  std::atomic<std::size_t> held{0};              // in the registry, not yet received or cleared
  std::atomic<std::size_t> awaiting_receipt{0};  // finished and held
  std::atomic<int> streamers{0};  // streaming receivers (without keep) covering this batch

  /// While a streaming receiver covers the batch, finished jobs it has not taken yet also count
  /// against max_unreceived, so a slow receiver holds memory to max_queue + max_unreceived jobs.
  /// Without one, nothing may be waiting to take them, so they do not hold feeding back.
  bool paused() const { return streamers.load() > 0 && awaiting_receipt.load() >= max_unreceived; }
  /// Half way to the pause: a receiver holding on for a group of jobs takes them now.
  bool backlog_half_full() const { return 2 * awaiting_receipt.load() >= max_unreceived; }

  /// A job of this batch reached `state` from `previous`; may complete the batch.
  void on_job_finished(JobState state, JobState previous);
  /// Jobs of this batch left the registry: if a receiver's backlog paused feeding, resume it.
  void resume_feeding();
  /// The feeder counted a job in `unfinished` and then found the batch stopped.
  void cancel_creation();
  /// No more jobs will be created (range exhausted, reading it failed, or stopped).
  void mark_feeding_done();
  /// Feeding done and every job finished.
  bool done() const;
  bool feeding_done() const;
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  Progress progress() const;

 private:
  void check_done();

  std::shared_ptr<void> script_;
  std::unique_ptr<InputFeed> feed_;  // declared after script_: it points into the script
  // Lock order: a leaf, after RegistryCore::mutex_ (see pool_core.hpp).
  mutable Mutex mutex_;
  mutable std::condition_variable done_cv_;
  bool feeding_done_ RSP_GUARDED_BY(mutex_) = false;
  std::atomic<bool> done_{false};
};

/// JobBatch::stop and forced clears: stop feeding, end not-started jobs, stop running ones.
void stop_batch(BatchCore& batch);

/// Adds the counts of `part` (not its elapsed time) to `total`.
void accumulate(Progress& total, const Progress& part);

}  // namespace rsp::detail
