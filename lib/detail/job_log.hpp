// The CSV job log of ReceiveOptions::log_file: a header row, then one row per received job.
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
std::string csv_row(const ReceivedJob& job);
/// A field quoted when it holds a comma, quote, CR or LF (quotes doubled).
std::string csv_field(std::string_view text);
/// "2026-11-21T21:47:31.123Z"; empty for a time that never came (the epoch).
std::string iso_time(std::chrono::system_clock::time_point time);

/// A job log opened for one receive call. Opening writes the header to an empty file, and fails
/// (std::system_error naming the path) before any job is taken, so a bad path never costs a job.
class JobLog {
 public:
  explicit JobLog(std::filesystem::path path);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  /// Appends rows, writing the header first when the file is empty. Appends from threads of this
  /// process are serialized, and each call is a single write in append mode.
  void append(const std::vector<std::string>& rows);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace rsp::detail
