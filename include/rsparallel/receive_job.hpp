// rsparallel: Receive-RunspaceJob. Collects finished jobs with every stream they wrote.
//
// @code
//   // Everything, once all of it has finished (or 60 s passed):
//   std::vector<rsp::ReceivedJob> jobs = rsp::receive_runspace_job(*pool, {.wait = true});
//   // Streaming: each job as it finishes; memory stays bounded (max_queue + max_unreceived).
//   rsp::receive_runspace_job(*pool, {.timeout = std::chrono::minutes(10)},
//                             [](rsp::ReceivedJob job) { consume(std::move(job)); });
// @endcode
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rsparallel/job.hpp"
#include "rsparallel/job_registry.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

/// The fields keep this order (designated initializers depend on it); new fields go last.
struct ReceiveOptions {
  std::string name;                           // only jobs of this name
  std::optional<JobId> id;                    // only this job
  bool wait = false;                          // until every matching job, fed or not, has finished
  std::chrono::milliseconds timeout{60'000};  // give up waiting then; 0 = no limit
  bool keep = false;                          // leave received jobs in the registry
  std::filesystem::path log_file;             // append one CSV row per received job
  std::function<void(const Progress&)> on_progress;  // while waiting (about 10 times a second)
                                                     // and once at the end
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const ReceiveOptions& options);

/// The finished matching jobs, in id order, removed from the registry unless `keep`. With
/// `wait`, first waits until every matching job (created or still to be created from its input
/// range) has finished, or `timeout` passed. Given a pool, only that pool's jobs match.
std::vector<ReceivedJob> receive_runspace_job(RunspacePool& pool, ReceiveOptions options = {});
std::vector<ReceivedJob> receive_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                                              ReceiveOptions options = {});
std::vector<ReceivedJob> receive_runspace_job(JobRegistry& registry, ReceiveOptions options = {});

/// Called once per received job. If it throws, that job and any others taken with it but not yet
/// handed over go back to the registry unreceived, and the exception propagates from
/// receive_runspace_job.
using ReceiveCallback = std::function<void(ReceivedJob&)>;

/// Streaming form: hands over each matching job as it finishes, until every matching job has
/// finished or `timeout` passed (`wait` is implied). Returns how many jobs were handed over.
/// Two receivers running at once each get a job at most once and together get every job once.
std::size_t receive_runspace_job(RunspacePool& pool, ReceiveOptions options,
                                 ReceiveCallback on_job);
std::size_t receive_runspace_job(JobRegistry& registry, ReceiveOptions options,
                                 ReceiveCallback on_job);

/// Accepts a callback taking `ReceivedJob` by value, by `&&`, by `&` or by `const&`. One taking it
/// by value gets a copy; one taking `&&` gets the job itself, and if it moves the job away and then
/// throws, the job cannot go back.
template <class Callback>
requires(std::invocable<Callback&, ReceivedJob&&> || std::invocable<Callback&, ReceivedJob&>) &&
    (!std::same_as<std::decay_t<Callback>, ReceiveCallback>)std::size_t
    receive_runspace_job(RunspacePool& pool, ReceiveOptions options, Callback on_job) {
  return receive_runspace_job(pool, std::move(options),
                              ReceiveCallback([f = std::move(on_job)](ReceivedJob& job) mutable {
                                // By value gets a copy, so a callback that throws leaves the job
                                // intact to go back.
                                if constexpr (std::invocable<Callback&, ReceivedJob&>) {
                                  f(job);
                                } else {
                                  f(std::move(job));
                                }
                              }));
}

template <class Callback>
requires(std::invocable<Callback&, ReceivedJob&&> || std::invocable<Callback&, ReceivedJob&>) &&
    (!std::same_as<std::decay_t<Callback>, ReceiveCallback>)std::size_t
    receive_runspace_job(JobRegistry& registry, ReceiveOptions options, Callback on_job) {
  return receive_runspace_job(registry, std::move(options),
                              ReceiveCallback([f = std::move(on_job)](ReceivedJob& job) mutable {
                                // By value gets a copy, so a callback that throws leaves the job
                                // intact to go back.
                                if constexpr (std::invocable<Callback&, ReceivedJob&>) {
                                  f(job);
                                } else {
                                  f(std::move(job));
                                }
                              }));
}

template <class Callback>
std::size_t receive_runspace_job(const std::shared_ptr<RunspacePool>& pool, ReceiveOptions options,
                                 Callback on_job) {
  if (!pool) throw std::invalid_argument("rsp::receive_runspace_job: pool is null");
  return receive_runspace_job(*pool, std::move(options), std::move(on_job));
}

}  // namespace rsp
