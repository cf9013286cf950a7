#include "detail/job_factory.hpp"

#include <algorithm>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>

#include "detail/errors.hpp"
#include "detail/record_pool.hpp"

namespace rsp::detail {
namespace {

// Reads a batch whose range may block (a stream) on a thread of its own: one job per read,
// queued at once, and only while a place is free and the receiver is not behind.
void read_stream(std::shared_ptr<FeedPlaces> places, std::shared_ptr<BatchCore> batch,
                 std::weak_ptr<JobIntake> intake) {
  for (;;) {
    {
      Lock lock(places->mutex);
      ++places->waiting;  // before the check: a place freed after it is sure to wake us
      lock.wait(places->changed, [&]() RSP_REQUIRES(places->mutex) {
        return places->closing.load() || batch->stop_requested.load() ||
               (places->has_place() && !batch->paused());
      });
      --places->waiting;
    }
    if (places->closing.load() || batch->stop_requested.load()) break;
    bool ended = false;
    JobPtr job;
    try {
      job = make_next_job(*batch, batch, *places, ended);
    } catch (...) {
      break;  // out of memory for a record: the batch ends with the jobs it has
    }
    if (!job) break;  // exhausted or stopped
    {
      std::vector<JobPtr> jobs{std::move(job)};
      if (std::shared_ptr<JobIntake> sink = intake.lock()) {
        sink->enqueue(jobs);
      } else {  // the pool is gone: the job never existed
        places->unfinished.fetch_sub(1);
        --batch->created;
        batch->cancel_creation();
        break;
      }
    }
    if (ended) break;
  }
  end_feeding(*batch);
  batch.reset();  // user destructors (an owned range, the script) run here, unlocked
  Lock lock(places->mutex);
  --places->readers;
  places->changed.notify_all();
}

// Polled rather than a timed lock: ThreadSanitizer does not follow pthread_mutex_timedlock.
bool try_lock_polled(Mutex& mutex, std::chrono::steady_clock::time_point deadline)
    RSP_TRY_ACQUIRE(true, mutex) {
  for (;;) {
    if (mutex.try_lock()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

JobPtr make_next_job(BatchCore& batch, const std::shared_ptr<BatchCore>& owner, FeedPlaces& places,
                     bool& ended) {
  JobPtr job = make_job_record();  // first: the work is read straight into it
  std::size_t count = 0;
  std::optional<ErrorRecord> read_error;
  try {
    count = batch.feed()->pull(batch.slice, job->work);
  } catch (...) {
    read_error = describe_current_exception();
    read_error->message = "reading input " + std::to_string(batch.inputs_pulled) +
                          " of the batch failed: " + read_error->message;
  }
  if (count == 0 && !read_error) {
    ended = true;
    return nullptr;
  }
  job->batch = owner;
  job->input_index = batch.inputs_pulled;
  job->data.name = batch.name;
  job->data.input_index = batch.inputs_pulled;
  job->data.input_count = count;
  batch.inputs_pulled += count;
  ++places.unfinished;
  ++batch.unfinished;
  if (batch.stop_requested.load()) {  // stopped while we read: the job never existed
    places.unfinished.fetch_sub(1);
    batch.cancel_creation();
    ended = true;
    return nullptr;
  }
  ++batch.created;
  if (read_error) {
    // Reading the range threw: the batch ends here, and a Failed job carries the error.
    job->work.reset();
    job->data.errors.push_back(std::move(*read_error));
    ended = true;
  }
  return job;
}

void end_feeding(BatchCore& batch) {
  batch.feed().reset();  // release the range (and the caller's, if referenced) at once
  batch.mark_feeding_done();
}

JobFactory::JobFactory(std::size_t max_queue)
    : places_(std::make_shared<FeedPlaces>(max_queue)),
      chunk_(std::clamp<std::size_t>(max_queue / 2, 1, 16)) {}

JobFactory::~JobFactory() = default;

bool JobFactory::add_batch(const std::shared_ptr<BatchCore>& batch,
                           const std::weak_ptr<JobIntake>& intake) {
  {
    // Under the lock close() sets `closing` with, so no batch slips past it.
    Lock lock(hungry_mutex_);
    if (closing()) return false;
    if (batch->feed()->may_block() && start_reader(batch, intake)) return true;
    hungry_.push_back(batch);
    ++hungry_count_;
  }
  schedule_feed(intake);
  return true;
}

bool JobFactory::start_reader(const std::shared_ptr<BatchCore>& batch,
                              const std::weak_ptr<JobIntake>& intake) {
  {
    Lock lock(places_->mutex);
    ++places_->readers;
  }
  try {
    std::thread(read_stream, places_, batch, intake).detach();
    return true;
  } catch (...) {
    // No thread for it: the batch is read between jobs like a range of data in hand.
    Lock lock(places_->mutex);
    --places_->readers;
    return false;
  }
}

void JobFactory::schedule_feed(const std::weak_ptr<JobIntake>& intake) {
  places_->wake();
  if (closing() || hungry_count_.load() == 0 || feed_scheduled_.exchange(true)) return;
  // The intake owns this factory: while it is there, so is `this`.
  boost::asio::post(executor_.io(), [this, intake] {
    if (std::shared_ptr<JobIntake> sink = intake.lock()) {
      feed_scheduled_.store(false);
      feed(*sink);
    }
  });
}

void JobFactory::remove_hungry(const std::shared_ptr<BatchCore>& batch) {
  Lock lock(hungry_mutex_);
  if (std::erase(hungry_, batch) != 0) --hungry_count_;
}

void JobFactory::feed(JobIntake& intake) noexcept {
  feed_again_.store(true);
  while (feed_again_.load()) {
    std::vector<std::shared_ptr<BatchCore>> ended;
    {
      if (!feed_mutex_.try_lock()) return;  // the holder sees feed_again_ before it lets go
      Lock lock(feed_mutex_, std::adopt_lock);
      feed_again_.store(false);
      try {
        feed_locked(intake);
      } catch (...) {
        // Out of memory for a job's record: the jobs created so far stay in created_ and the
        // next job to finish feeds again. Nothing escapes into a runspace or the executor.
        feed_again_.store(false);
      }
      ended.swap(let_go_);
    }
    // Ended batches are let go of unlocked: the last reference runs the script's destructor.
  }
}

void JobFactory::end_batches(JobIntake& intake) {
  if (ended_.empty()) return;
  if (!created_.empty()) intake.enqueue(created_);
  for (auto& batch : ended_) {
    remove_hungry(batch);
    end_feeding(*batch);
    let_go_.push_back(std::move(batch));
  }
  ended_.clear();
}

bool JobFactory::take_turn(const std::shared_ptr<BatchCore>& batch, JobIntake& intake) {
  // Up to chunk_ jobs from one batch, so the batch list is locked once per turn, not per job.
  for (std::size_t turn = 0; turn < chunk_; ++turn) {
    if (turn != 0 &&
        (closing() || !places_->has_place() || batch->paused() || batch->stop_requested.load())) {
      return true;
    }
    if (created_.size() >= chunk_) intake.enqueue(created_);
    bool ended = false;
    JobPtr job = make_next_job(*batch, batch, *places_, ended);
    if (job) created_.push_back(std::move(job));
    if (ended) {
      ended_.push_back(batch);
      end_batches(intake);
      return false;
    }
  }
  return true;
}

void JobFactory::feed_locked(JobIntake& intake) {
  {
    // Stopped batches end first, whether or not a place is free.
    Lock lock(hungry_mutex_);
    for (const auto& batch : hungry_) {
      if (batch->stop_requested.load() || closing()) ended_.push_back(batch);
    }
  }
  end_batches(intake);
  while (!closing() && places_->has_place()) {
    std::shared_ptr<BatchCore> batch;
    {
      // Round robin between batches, passing over those paused for their receiver.
      Lock lock(hungry_mutex_);
      for (std::size_t tried = 0; tried < hungry_.size() && !batch; ++tried) {
        std::shared_ptr<BatchCore> next = hungry_.front();
        hungry_.pop_front();
        hungry_.push_back(next);
        if (!next->paused() || next->stop_requested.load()) batch = std::move(next);
      }
    }
    if (!batch) break;
    if (batch->stop_requested.load()) {
      ended_.push_back(batch);
      end_batches(intake);
      continue;
    }
    take_turn(batch, intake);
  }
  if (!created_.empty()) intake.enqueue(created_);
  if (closing()) {
    // The pool closed while this thread was reading; close() left the batches to it.
    Lock lock(hungry_mutex_);
    ended_.insert(ended_.end(), hungry_.begin(), hungry_.end());
  }
  end_batches(intake);
}

void JobFactory::close() {
  {
    Lock lock(hungry_mutex_);  // add_batch checks `closing` under this lock
    places_->closing.store(true);
    for (const auto& batch : hungry_) batch->stop_requested.store(true);
  }
  Lock lock(places_->mutex);
  places_->changed.notify_all();
}

void JobFactory::wait_closed(std::chrono::steady_clock::time_point deadline) {
  // Batches end only under the feed lock: a range in the middle of a read must not look done
  // (its owner could free it). If a read outlasts the deadline, the reader ends them afterwards.
  std::vector<std::shared_ptr<BatchCore>> ended;
  {
    if (try_lock_polled(feed_mutex_, deadline)) {
      Lock feed_lock(feed_mutex_, std::adopt_lock);
      {
        Lock lock(hungry_mutex_);
        ended.assign(hungry_.begin(), hungry_.end());
        hungry_.clear();
        hungry_count_.store(0);
      }
      for (const auto& batch : ended) end_feeding(*batch);
    }
  }
  ended.clear();
  // Stream readers end their own batches; those blocked in a read past the deadline do so when
  // the read returns.
  Lock lock(places_->mutex);
  lock.wait_until(places_->changed, deadline,
                  [&]() RSP_REQUIRES(places_->mutex) { return places_->readers == 0; });
}

}  // namespace rsp::detail
