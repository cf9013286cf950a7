// rsparallel: what a job is and what a receiver gets back.
//
// @code
//   for (const rsp::ReceivedJob& job : rsp::receive_runspace_job(pool, {.wait = true})) {
//     if (job.state == rsp::JobState::Completed)
//       for (int v : job.output_as<int>()) std::cout << v << '\n';
//     for (const rsp::ErrorRecord& e : job.errors) std::cerr << e.type << ": " << e.message <<
//     '\n';
//   }
// @endcode
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iosfwd>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>
#include <version>  // __cpp_lib_format, where the standard library has <format>
#if __has_include(<format>) && defined(__cpp_lib_format)
#include <format>
#endif

namespace rsp {

/// Unique within a registry; increases in the order jobs are created.
using JobId = std::uint64_t;

enum class JobState { NotStarted, Running, Completed, Failed, Stopped, TimedOut };

/// "NotStarted", "Running", "Completed", "Failed", "Stopped" or "TimedOut".
std::string_view to_string(JobState state) noexcept;

/// Writes to_string(state), honouring the stream's width and fill (`std::setw(10) << state`).
/// Where the standard library has `<format>`, `std::format("{:>10}", state)` works too, taking the
/// format specification of a string.
///
/// Thread Safety: as for writing a string to the same stream.
std::ostream& operator<<(std::ostream& out, JobState state);

/// True for Completed, Failed, Stopped and TimedOut.
constexpr bool is_finished(JobState state) noexcept {
  return state != JobState::NotStarted && state != JobState::Running;
}

/// One error a job wrote (JobContext::write_error) or the exception that ended it.
struct ErrorRecord {
  std::string message;
  std::string type;              // the exception's type name, or "rsp::WriteError"
  std::exception_ptr exception;  // null for errors written with write_error
};

struct ProgressRecord {
  int percent = 0;
  std::string status;
};

/// Thrown by JobContext::check_stop() once a stop was requested; a job that lets it escape ends
/// Stopped (or TimedOut when its timeout caused the stop), not Failed.
class JobStopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Held by the error record of a job that ran past JobOptions::timeout.
class JobTimedOut : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Something the caller asked to read as a success was not one: rsp::outputs_as over a job that
/// did not complete, or rsp::Result::operator* of an input that did not complete. what() names
/// the job or the input, its state and its last error.
class JobFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// ReceivedJob::output_as<T> met an output of another type. Derives from std::bad_any_cast so
/// that code catching the standard error keeps working; what() names the job and both types.
class OutputTypeError : public std::bad_any_cast {
 public:
  explicit OutputTypeError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

/// A finished job as a receiver gets it: its identity, final state and every stream it wrote.
///
/// Thread Safety: a plain value. Distinct objects: safe. Shared objects: unsafe.
struct ReceivedJob {
  JobId id = 0;
  std::string name;
  JobState state = JobState::NotStarted;
  std::size_t input_index = 0;  // position of its first input
  std::size_t input_count = 0;  // inputs in its slice
  std::vector<std::any> output;
  std::vector<ErrorRecord> errors;
  std::vector<std::string> warnings, verbose, debug, information;
  std::optional<ProgressRecord> progress;  // the last one written
  std::chrono::system_clock::time_point queued, started, finished;
  std::chrono::nanoseconds duration{0};  // started to finished; 0 for a job that never started

  /// True when the job wrote a non-terminating error or ended with one.
  bool had_errors() const noexcept { return !errors.empty(); }

  /// Every Output value as T. A value of another type throws OutputTypeError naming this job,
  /// the position, the type asked for and the type found.
  template <class T>
  std::vector<T> output_as() const {
    std::vector<T> values;
    values.reserve(output.size());
    for (std::size_t i = 0; i < output.size(); ++i) {
      const T* value = std::any_cast<T>(&output[i]);
      if (value == nullptr) throw_output_type_error(i, typeid(T));
      values.push_back(*value);
    }
    return values;
  }

 private:
  [[noreturn]] void throw_output_type_error(std::size_t position,
                                            const std::type_info& wanted) const;
};

namespace detail {
/// Throws JobFailed for rsp::outputs_as: "job ID 'NAME' (inputs A..B) ended STATE: ERROR".
[[noreturn]] void throw_not_completed(const ReceivedJob& job);
}  // namespace detail

/// Counts over the jobs a receive call covers, for a progress bar.
struct Progress {
  std::size_t total = 0;  // jobs expected: known up front for sized input ranges, else created
  std::size_t not_started = 0, running = 0, completed = 0, failed = 0, stopped = 0, timed_out = 0;
  std::size_t received = 0;
  std::chrono::nanoseconds elapsed{0};
  /// False while a range of unknown size is still being read: total is then only the jobs
  /// created so far.
  bool total_known = true;

  /// Completed + failed + stopped + timed out.
  std::size_t finished() const noexcept { return completed + failed + stopped + timed_out; }
};

/// The Output of every job, flattened in the order given, as T (see ReceivedJob::output_as).
/// A job that did not complete (Failed, Stopped, TimedOut, or not finished) throws JobFailed
/// naming the job and its inputs, so that positions in the result never shift silently.
template <class T>
std::vector<T> outputs_as(const std::vector<ReceivedJob>& jobs) {
  std::vector<T> values;
  for (const ReceivedJob& job : jobs) {
    if (job.state != JobState::Completed) detail::throw_not_completed(job);
    std::vector<T> part = job.output_as<T>();
    values.insert(values.end(), std::make_move_iterator(part.begin()),
                  std::make_move_iterator(part.end()));
  }
  return values;
}

/// A readable name for a type ("std::string", "int"), used in error records and messages.
std::string type_name(const std::type_info& type);

}  // namespace rsp

#if __has_include(<format>) && defined(__cpp_lib_format)
/// `std::format("{}", state)` is to_string(state); a specification applies as for a string.
template <>
struct std::formatter<rsp::JobState, char> : std::formatter<std::string_view, char> {
  template <class FormatContext>
  auto format(rsp::JobState state, FormatContext& context) const {
    return std::formatter<std::string_view, char>::format(rsp::to_string(state), context);
  }
};
#endif
