// rsparallel: what a running script sees, the C++ form of a script block's $args, Write-Error,
// Write-Warning and friends. It is the optional last parameter of a script.
//
// @code
//   rsp::new_runspace_job(pool, urls, [](const std::string& url, rsp::JobContext& ctx) {
//     ctx.write_verbose("fetching " + url);
//     for (int attempt = 0; attempt < 3; ++attempt) {
//       ctx.check_stop();                     // ends the job as Stopped once stopped
//       if (try_fetch(url)) return true;      // the return value goes to Output
//       ctx.write_warning("retrying " + url);
//     }
//     ctx.write_error("gave up on " + url);   // non-terminating: the job still Completes
//     return false;
//   });
// @endcode
#pragma once

#include <any>
#include <stop_token>
#include <string>

#include "rsparallel/job.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp {

namespace detail {
struct JobRecord;
/// Only the library makes contexts: one per job, kept with the job's record.
class ContextKey {
  ContextKey() = default;
  friend struct JobRecord;
};

class ContextSink;
/// Only a ContextSink makes a context that writes to it.
class SinkKey {
  SinkKey() = default;
  friend class ContextSink;
};

enum class TextStream { Warning, Verbose, Debug, Information };

/// Where a context's writes go when the job's record is not in this process: a worker process
/// sends them to its pool as they happen. A context made on a sink calls it for everything.
///
/// Thread Safety: an implementation must take writes from the job's thread and from threads
/// the job started, at once.
class ContextSink {
 public:
  virtual ~ContextSink() = default;
  virtual JobId id() const noexcept = 0;
  virtual const std::string& name() const noexcept = 0;
  virtual std::size_t input_index() const noexcept = 0;
  virtual void write_output(std::any value) = 0;
  virtual void write_error(std::string message) = 0;
  virtual void write_text(TextStream stream, std::string message) = 0;
  /// `percent` is already clamped to 0..100.
  virtual void write_progress(int percent, std::string status) = 0;

 protected:
  static SinkKey key() noexcept { return {}; }
};
}  // namespace detail

/// The running job's handle on its streams, its stop request and its runspace.
///
/// Each job has a context of its own, kept with the job's record: a thread the job started
/// that writes after the job ended (timed out, stopped, abandoned, or returned) writes to that
/// job, where the write is dropped, never to a later job of the same runspace. The context lives
/// until the job is received or cleared.
///
/// Thread Safety: meant for the job's own thread. The write functions and stop_requested are
/// also safe from threads the job starts itself, until the job is received or cleared; runspace()
/// only on the job's own thread. Distinct objects: safe.
class JobContext {
 public:
  /// Made by the library for each job.
  JobContext(detail::ContextKey /*key*/, detail::JobRecord& record, Runspace& runspace,
             std::stop_token token) noexcept
      : record_(&record), runspace_(&runspace), token_(std::move(token)) {}
  /// Made by a worker process for each job: every write goes to `sink`.
  JobContext(detail::SinkKey /*key*/, detail::ContextSink& sink, Runspace& runspace,
             std::stop_token token) noexcept
      : record_(nullptr), sink_(&sink), runspace_(&runspace), token_(std::move(token)) {}

  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  JobId id() const noexcept;
  const std::string& name() const noexcept;
  Runspace& runspace() noexcept { return *runspace_; }
  /// Position of the job's first input in its batch's range.
  std::size_t input_index() const noexcept;

  /// More Output besides the return value. A `const char*` is stored as std::string.
  void write_output(std::any value);
  /// A non-terminating error: the job goes on, and Completes with had_errors() true.
  void write_error(std::string message);
  void write_warning(std::string message);
  void write_verbose(std::string message);
  void write_debug(std::string message);
  void write_information(std::string message);
  /// Keeps the last record; percent is clamped to 0..100.
  void write_progress(int percent, std::string status = {});

  /// Set by a timeout, JobBatch::stop(), a forced clear or the pool's destruction.
  bool stop_requested() const noexcept { return token_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return token_; }
  /// Throws JobStopped once a stop was requested.
  void check_stop();

 private:
  detail::JobRecord* record_;
  detail::ContextSink* sink_ = nullptr;  // set instead of record_ in a worker process
  Runspace* runspace_;
  std::stop_token token_;
};

}  // namespace rsp
