// rsparallel: the options of every call, and what a receive call reports, as plain aggregates.
// Each component header (runspace_pool.hpp, runspace_job.hpp, receive_job.hpp, clear_jobs.hpp,
// invoke_parallel.hpp) includes this one; include it alone to build options without the calls.
//
// @code
//   #include <rsparallel/options.hpp>
//
//   rsp::PoolOptions pool_options{.min_runspaces = 2, .max_runspaces = 8};
//   rsp::JobOptions job_options{.name = "scan", .timeout = std::chrono::seconds(5)};
//   rsp::ReceiveOptions receive_options{.name = "scan", .wait = true};
//   rsp::validate(pool_options);  // std::invalid_argument naming the field, the rule and the value
// @endcode
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "rsparallel/job.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp {

class JobRegistry;
class RunspacePool;

/// The options of new_runspace_pool (New-RunspacePool).
/// The fields keep this order (designated initializers depend on it); new fields go last.
/// What a runspace is: a thread of this process, or a worker process running this program
/// (rsp::run_as_worker), which a timeout can kill and whose crash ends only its job.
enum class Isolation { Thread, Process };

struct PoolOptions {
  std::size_t min_runspaces = 1;                   // 1..65535; opened at once
  std::size_t max_runspaces = 20;                  // 1..65535, >= min; more open on demand
  std::size_t max_queue = 0;                       // jobs created and not finished; 0 = 3 * max
  std::chrono::milliseconds idle_timeout{60'000};  // runspaces above min close when idle this long
  std::chrono::milliseconds stop_grace{1'000};     // how long a stopped job may ignore the stop
  SessionState session{};
  std::shared_ptr<JobRegistry> registry{};  // null: the pool makes its own
  // Finished jobs a streaming receiver may have waiting before feeding pauses for it;
  // 0 = max(max_queue, 256). A receiver slower than the runspaces hands over this many jobs per
  // wake-up, so a small value costs a thread hand-off every few jobs.
  std::size_t max_unreceived = 0;
  // Process: each runspace is a worker process; only registered scripts (rsp::register_script)
  // run there, and the program's main starts with rsp::run_as_worker.
  Isolation isolation = Isolation::Thread;
  // A runspace is replaced after this many jobs (a fresh worker process, or thread); 0 = never.
  std::size_t max_jobs_per_runspace = 0;
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const PoolOptions& options);

/// The options of new_runspace_job (New-RunspaceJob).
/// The fields keep this order (designated initializers depend on it); new fields go last.
struct JobOptions {
  std::string name{};                    // -JobName
  std::chrono::milliseconds timeout{0};  // per job, from the moment it starts running; 0 = none
  std::size_t slice_size = 1;            // inputs per job; 0 = automatic (about sqrt(n))
  std::size_t max_running = 0;           // jobs of this call running at once; 0 = the pool's max
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const JobOptions& options);

/// The options of receive_runspace_job (Receive-RunspaceJob).
/// The fields keep this order (designated initializers depend on it); new fields go last.
struct ReceiveOptions {
  std::string name{};                    // only jobs of this name
  std::optional<JobId> id{};             // only this job
  bool wait = false;                     // until every matching job, fed or not, has finished
  std::chrono::milliseconds timeout{0};  // give up waiting then; 0 = no limit
  bool keep = false;                     // leave received jobs in the registry
  std::filesystem::path log_file{};      // append one CSV row per received job
  std::function<void(const Progress&)> on_progress{};  // at most every 100 ms while it waits or
                                                       // hands over jobs, and once at the end
};

/// How a receive call ended. The streaming form returns it; the vector form fills one on request.
/// Converts to the count received, so `std::size_t n = receive_runspace_job(..., callback)` works.
///
/// Thread Safety: a plain value. Distinct objects: safe. Shared objects: unsafe.
struct ReceiveResult {
  std::size_t received = 0;  // jobs handed over (streaming) or returned (vector form)
  /// True when every matching job (created or still to come from its input range) had finished
  /// and was received by the time the call returned: nothing is left for a later receive (with
  /// `keep`, nothing still unfinished). False when the call's own `timeout` cut it short, or,
  /// without `wait`, when matching jobs were still unfinished.
  bool complete = false;

  constexpr operator std::size_t() const noexcept { return received; }
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const ReceiveOptions& options);

/// Called once per received job. If it throws, that job and any others taken with it but not yet
/// handed over go back to the registry unreceived, and the exception propagates from
/// receive_runspace_job.
using ReceiveCallback = std::function<void(ReceivedJob&)>;

/// The options of clear_runspace_jobs (Clear-RunspaceJobs).
/// The fields keep this order (designated initializers depend on it); new fields go last.
struct ClearOptions {
  std::string name{};
  std::optional<JobId> id{};
  bool force = false;  // also stop running jobs and drop those not started or not fed
};

/// The options of invoke_parallel and parallel_map (Invoke-Parallel).
/// The fields keep this order (designated initializers depend on it); new fields go last.
struct ParallelOptions {
  std::string name{};
  std::chrono::milliseconds timeout{0};  // per job (parallel_map: per input); 0 = none
  // Inputs per job; 0 = automatic (about sqrt(n)). Unset = the call's own default: 1 for
  // invoke_parallel, automatic for parallel_map (whose outcomes stay per input whatever the
  // slice, see parallel_map.hpp). `{.slice_size = 3}` reads as before.
  std::optional<std::size_t> slice_size{};
  std::size_t max_running = 0;           // 0 = the machine's cores
  bool show_progress = false;            // a progress bar on stderr, when it is a terminal
  std::filesystem::path log_file{};      // the CSV job log
  std::shared_ptr<RunspacePool> pool{};  // null: a pool of max_running runspaces for this call
  // How long a stopped or timed-out job may ignore its stop before its runspace is abandoned,
  // on the pool this call makes; the call returns within about this much after a stop or the
  // last timeout. With `pool` given, that pool's own PoolOptions::stop_grace rules abandoning
  // instead, and the call returns as soon as every job is marked finished (a stopped or
  // timed-out job is marked at once), without waiting for threads that ignore their stop.
  std::chrono::milliseconds stop_grace{1'000};
  // Cancels the call: the batch stops being fed, jobs not started end Stopped, running ones are
  // stopped (and interrupted). The call returns within about stop_grace with every input
  // accounted for: inputs never made into jobs are reported Stopped too (for a sized range;
  // inputs of a range of unknown size that were never read are not known, so not reported).
  std::stop_token stop{};
};

/// Throws std::invalid_argument naming the first option out of range and the value given.
void validate(const ParallelOptions& options);

}  // namespace rsp
