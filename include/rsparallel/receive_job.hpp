// rsparallel: Receive-RunspaceJob. Collects finished jobs with every stream they wrote.
//
// @code
//   // Everything, once all of it has finished (no time limit unless one is given):
//   std::vector<rsp::ReceivedJob> jobs = rsp::receive_runspace_job(*pool, {.wait = true});
//   // Streaming: each job as it finishes; memory stays bounded (max_queue + max_unreceived).
//   rsp::ReceiveResult r = rsp::receive_runspace_job(*pool, {.timeout = std::chrono::minutes(10)},
//                                                    [](rsp::ReceivedJob job) { consume(job); });
//   if (!r.complete) std::cerr << "gave up after 10 minutes, " << r.received << " received\n";
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
#include "rsparallel/options.hpp"
#include "rsparallel/runspace_pool.hpp"

namespace rsp {

/// The finished matching jobs, in id order, removed from the registry unless `keep`. With
/// `wait`, first waits until every matching job (created or still to be created from its input
/// range) has finished, or `timeout` passed. Given a pool, only that pool's jobs match.
std::vector<ReceivedJob> receive_runspace_job(RunspacePool& pool, ReceiveOptions options = {});
std::vector<ReceivedJob> receive_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                                              ReceiveOptions options = {});
std::vector<ReceivedJob> receive_runspace_job(JobRegistry& registry, ReceiveOptions options = {});

/// The same, also telling in `result` whether the call got every matching job or stopped short
/// (see ReceiveResult::complete): `if (!result.complete)` after a `{.wait = true, .timeout = 5s}`.
std::vector<ReceivedJob> receive_runspace_job(RunspacePool& pool, ReceiveOptions options,
                                              ReceiveResult& result);
std::vector<ReceivedJob> receive_runspace_job(const std::shared_ptr<RunspacePool>& pool,
                                              ReceiveOptions options, ReceiveResult& result);
std::vector<ReceivedJob> receive_runspace_job(JobRegistry& registry, ReceiveOptions options,
                                              ReceiveResult& result);

/// Streaming form: hands over each matching job as it finishes, until every matching job has
/// finished or `timeout` passed (`wait` is implied). Returns how many jobs were handed over and
/// whether that was all of them (`complete`) or the timeout cut the call short.
/// Two receivers running at once each get a job at most once and together get every job once.
///
/// Thread Safety (every form): any number of receive calls may run at once, on the same pool or
/// registry too. The callback and on_progress run on the calling thread, under no library lock.
ReceiveResult receive_runspace_job(RunspacePool& pool, ReceiveOptions options,
                                   ReceiveCallback on_job);
ReceiveResult receive_runspace_job(JobRegistry& registry, ReceiveOptions options,
                                   ReceiveCallback on_job);

/// Accepts a callback taking `ReceivedJob` by value, by `&&`, by `&` or by `const&`. One taking it
/// by value gets a copy; one taking `&&` gets the job itself, and if it moves the job away and then
/// throws, the job cannot go back.
template <class Callback>
requires(std::invocable<Callback&, ReceivedJob&&> || std::invocable<Callback&, ReceivedJob&>) &&
    (!std::same_as<std::decay_t<Callback>, ReceiveCallback>)ReceiveResult
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
    (!std::same_as<std::decay_t<Callback>, ReceiveCallback>)ReceiveResult
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
requires(!std::same_as<std::decay_t<Callback>, ReceiveResult>) ReceiveResult
    receive_runspace_job(const std::shared_ptr<RunspacePool>& pool, ReceiveOptions options,
                         Callback on_job) {
  if (!pool) throw std::invalid_argument("rsp::receive_runspace_job: pool is null");
  return receive_runspace_job(*pool, std::move(options), std::move(on_job));
}

}  // namespace rsp
