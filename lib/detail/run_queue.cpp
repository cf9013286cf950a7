#include "detail/run_queue.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "detail/batch_core.hpp"

namespace rsp::detail {

JobPtr RunQueue::pop(std::vector<JobPtr>& skipped) {
  if (ready_.empty()) promote(skipped);
  while (!ready_.empty()) {
    JobPtr job = std::move(ready_.front());
    ready_.pop_front();
    // Stopped while queued, or its stopper ends it Stopped: skipped.
    if (job->state.load() != JobState::NotStarted || job->batch->stop_requested.load()) {
      skipped.push_back(std::move(job));
      continue;
    }
    const BatchCore& batch = *job->batch;
    if (batch.options.max_running != 0) {
      std::size_t& running_now = running(batch);
      if (running_now >= batch.options.max_running) {
        deferred_.push_back(std::move(job));
        continue;
      }
      ++running_now;
    }
    return job;
  }
  return nullptr;
}

std::size_t RunQueue::ran(const JobRecord& job, std::vector<JobPtr>& skipped) {
  const BatchCore& batch = *job.batch;
  if (batch.options.max_running != 0) {
    auto at = std::find_if(running_.begin(), running_.end(),
                           [&](const auto& entry) { return entry.first == &batch; });
    if (at != running_.end() && --at->second == 0) running_.erase(at);
  }
  return promote(skipped);
}

std::size_t& RunQueue::running(const BatchCore& batch) {
  auto at = std::find_if(running_.begin(), running_.end(),
                         [&](const auto& entry) { return entry.first == &batch; });
  if (at != running_.end()) return at->second;
  return running_.emplace_back(&batch, 0).second;
}

std::size_t RunQueue::running_of(const BatchCore& batch) const {
  auto at = std::find_if(running_.begin(), running_.end(),
                         [&](const auto& entry) { return entry.first == &batch; });
  return at == running_.end() ? 0 : at->second;
}

std::size_t RunQueue::promote(std::vector<JobPtr>& skipped) {
  // Stopped ones are dropped on the way.
  std::vector<std::pair<const BatchCore*, std::size_t>> promoted;  // per batch, this call
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    const BatchCore& batch = *(*it)->batch;
    auto mine = std::find_if(promoted.begin(), promoted.end(),
                             [&](const auto& entry) { return entry.first == &batch; });
    std::size_t already = mine == promoted.end() ? 0 : mine->second;
    if ((*it)->state.load() != JobState::NotStarted) {
      skipped.push_back(std::move(*it));
      it = deferred_.erase(it);
    } else if (running_of(batch) + already < batch.options.max_running) {
      ready_.push_back(std::move(*it));
      it = deferred_.erase(it);
      if (mine == promoted.end()) {
        promoted.emplace_back(&batch, 1);
      } else {
        ++mine->second;
      }
    } else {
      ++it;
    }
  }
  return promoted.size();
}

std::vector<JobPtr> RunQueue::take_all() {
  std::vector<JobPtr> all(std::make_move_iterator(ready_.begin()),
                          std::make_move_iterator(ready_.end()));
  all.insert(all.end(), std::make_move_iterator(deferred_.begin()),
             std::make_move_iterator(deferred_.end()));
  ready_.clear();
  deferred_.clear();
  return all;
}

}  // namespace rsp::detail
