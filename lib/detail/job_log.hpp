// The CSV job log of ReceiveOptions::log_file: a header row, then one row per received job.
//
// Columns: id, name, state, input_index, queued, started, finished, duration_ms, had_errors,
// errors, warnings, run. `errors` and `warnings` each hold their messages as one RFC 4180 record
// (a field per message, quoted when it holds a comma, quote, CR or LF or is empty; no messages is
// an empty field), so the same CSV reader splits them apart again. `run` names the receive call
// that wrote the row ("20261121T214731.123Z-4242-1": its start, process id and a count within the
// process), so rows of calls appended to one log are told apart: (run, id) is unique in a log.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rsparallel/job.hpp"

namespace rsp::detail {

/// The columns, in order.
std::string csv_header();
/// One job's row, fields quoted as RFC 4180 requires; ends with CRLF.
std::string csv_row(const ReceivedJob& job, std::string_view run);
/// Messages as one RFC 4180 record without its line end: "" for none, else each message quoted
/// when csv_field would quote it or when it is empty (so [""] is `""`, not nothing), comma-joined.
std::string csv_list(const std::vector<std::string>& messages);
/// A new value for the run column: "20261121T214731.123Z-4242-7", unique in this process and,
/// with the process id and time, among processes appending to one log.
std::string new_run_id();
/// A field quoted when it holds a comma, quote, CR or LF (quotes doubled).
std::string csv_field(std::string_view text);
/// "2026-11-21T21:47:31.123Z"; empty for a time that never came (the epoch).
std::string iso_time(std::chrono::system_clock::time_point time);

/// A job log opened for one receive call. Opening writes the header to an empty file, and fails
/// (std::system_error naming the path) before any job is taken, so a bad path never costs a job.
class JobLog {
 public:
  explicit JobLog(std::filesystem::path path);
  /// The run column of this log's rows (new_run_id(), made when it opened).
  const std::string& run() const noexcept { return run_; }
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  /// Appends rows, writing the header first when the file is empty. Appends from threads of this
  /// process are serialized, and each call is a single write in append mode.
  void append(const std::vector<std::string>& rows);

 private:
  std::filesystem::path path_;
  std::string run_;
  int fd_ = -1;
};

}  // namespace rsp::detail
