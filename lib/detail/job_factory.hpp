// The job factory, New-RunspaceJob's half of a pool: it pulls each batch's inputs as places free
// under max_queue and makes them into jobs for the pool's queue.
//
// Ranges of data in hand are read on the pool's own executor, or by a runspace between jobs, one
// reader at a time and round robin between batches. A range that may block (a stream, a pipe) is
// read on a thread of its own batch, so a quiet pipe delays only its own batch: never the other
// batches of its pool, nor another pool (each pool has its own executor).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "detail/batch_core.hpp"
#include "detail/executor.hpp"
#include "detail/job_record.hpp"
#include "detail/mutex.hpp"

namespace rsp::detail {

/// Where created jobs go: the pool's queue. Jobs reach it with ids, in creation order per batch.
class JobIntake {
 public:
  /// Takes every job in `jobs` (leaving it empty). Runs no user code under a lock.
  virtual void enqueue(std::vector<JobPtr>& jobs) = 0;

 protected:
  ~JobIntake() = default;
};

/// What the factory shares with the threads reading streams, which may outlive it (a read
/// blocked past the pool's end is left to finish on its own).
struct FeedPlaces {
  explicit FeedPlaces(std::size_t max_queue_) : max_queue(max_queue_) {}

  const std::size_t max_queue;
  std::atomic<std::size_t> unfinished{0};  // places under max_queue taken
  std::atomic<bool> closing{false};
  std::atomic<int> waiting{0};  // stream readers waiting for a place

  // Lock order: a leaf; taken after JobFactory::hungry_mutex_ (add_batch), never before.
  Mutex mutex;
  std::condition_variable changed;                // a place freed, a pause ended, a stop, closing
  std::size_t readers RSP_GUARDED_BY(mutex) = 0;  // stream reader threads alive

  bool has_place() const noexcept { return unfinished.load() < max_queue; }
  /// Wakes the stream readers waiting for a place, if any: the common case costs one load.
  void wake() {
    if (waiting.load() == 0) return;
    Lock lock(mutex);
    changed.notify_all();
  }
};

class JobFactory {
 public:
  explicit JobFactory(std::size_t max_queue);
  ~JobFactory();
  JobFactory(const JobFactory&) = delete;
  JobFactory& operator=(const JobFactory&) = delete;

  /// A new batch; false (and nothing done) once closing. `intake` takes its jobs; it outlives
  /// this factory or is gone (then nothing more is created).
  bool add_batch(const std::shared_ptr<BatchCore>& batch, const std::weak_ptr<JobIntake>& intake);
  /// Feeds soon on the pool's executor (if a batch of data in hand waits for places), and wakes
  /// the stream readers: after a place freed, a receiver's pause ended or a batch was stopped.
  void schedule_feed(const std::weak_ptr<JobIntake>& intake);
  /// A feed round over the batches of data in hand, on the calling thread; returns at once when
  /// another thread is feeding (that one then feeds once more). Never blocks on a read.
  void feed(JobIntake& intake) noexcept;
  /// Whether a runspace between jobs should feed: batches wait and a few places are free.
  bool wants_feed() const noexcept {
    return hungry_count_.load() != 0 && places_->unfinished.load() + chunk_ <= places_->max_queue;
  }
  bool hungry() const noexcept { return hungry_count_.load() != 0; }

  /// A job's place is free again (it finished, or was never queued).
  void place_freed() {
    places_->unfinished.fetch_sub(1);
    places_->wake();
  }
  std::size_t unfinished() const noexcept { return places_->unfinished.load(); }

  /// Closing: creates no more jobs, and stops every batch still feeding.
  void close();
  /// Ends the batches stopped by close() once no read of theirs is under way, waiting until
  /// `deadline` for reads to return. Batches whose read outlasts it end when that read returns.
  void wait_closed(std::chrono::steady_clock::time_point deadline);
  bool closing() const noexcept { return places_->closing.load(); }

 private:
  void feed_locked(JobIntake& intake) RSP_REQUIRES(feed_mutex_);
  /// One turn of a batch: up to chunk_ jobs (fewer when places run out); false when it ended.
  bool take_turn(const std::shared_ptr<BatchCore>& batch, JobIntake& intake)
      RSP_REQUIRES(feed_mutex_);
  /// Ends batches that will create no more jobs: releases their ranges, marks them fed, once
  /// the jobs created for them are queued (a receiver waiting for an id looks at `fed`).
  void end_batches(JobIntake& intake) RSP_REQUIRES(feed_mutex_);
  void remove_hungry(const std::shared_ptr<BatchCore>& batch) RSP_EXCLUDES(hungry_mutex_);
  bool start_reader(const std::shared_ptr<BatchCore>& batch,
                    const std::weak_ptr<JobIntake>& intake);

  const std::shared_ptr<FeedPlaces> places_;
  // Jobs a feed round creates before it queues them, and how many free places a runspace
  // waits for before it feeds between jobs.
  const std::size_t chunk_;

  // Lock order: feed_mutex_ first, then hungry_mutex_, then FeedPlaces::mutex; a feed round
  // also queues jobs under feed_mutex_, so the pool's and the registry's locks come after it.
  // feed_mutex_ is the one library lock a user's range is read under.
  Mutex feed_mutex_;  // held while a round reads ranges of data in hand
  std::vector<JobPtr> created_ RSP_GUARDED_BY(feed_mutex_);                     // a round's jobs
  std::vector<std::shared_ptr<BatchCore>> ended_ RSP_GUARDED_BY(feed_mutex_);   // to end
  std::vector<std::shared_ptr<BatchCore>> let_go_ RSP_GUARDED_BY(feed_mutex_);  // let go unlocked
  std::atomic<bool> feed_again_{false};
  std::atomic<bool> feed_scheduled_{false};
  Mutex hungry_mutex_ RSP_ACQUIRED_AFTER(feed_mutex_);
  // Batches of data in hand with inputs left.
  std::deque<std::shared_ptr<BatchCore>> hungry_ RSP_GUARDED_BY(hungry_mutex_);
  std::atomic<std::size_t> hungry_count_{0};
  // Last: its thread ends before the state above goes away.
  Executor executor_;
};

/// Reads the batch's next job into a new record: null once the range is exhausted or the batch
/// stopped (the batch is then ended by the caller). A read that throws gives a Failed job that
/// carries the error, and ends the batch too (`ended` set).
JobPtr make_next_job(BatchCore& batch, const std::shared_ptr<BatchCore>& owner, FeedPlaces& places,
                     bool& ended);

/// Lets go of a batch's range and marks it fed.
void end_feeding(BatchCore& batch);

}  // namespace rsp::detail
