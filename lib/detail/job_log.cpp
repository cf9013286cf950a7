#include "detail/job_log.hpp"
#include "detail/mutex.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace rsp::detail {

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string iso_time(std::chrono::system_clock::time_point time) {
  if (time.time_since_epoch().count() == 0) return {};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

std::string csv_header() {
  return "id,name,state,input_index,queued,started,finished,duration_ms,had_errors,errors,"
         "warnings,run\r\n";
}

std::string csv_list(const std::vector<std::string>& messages) {
  std::string record;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i != 0) record += ',';
    // An empty message is quoted, so one empty message is not read back as none.
    record += messages[i].empty() ? std::string("\"\"") : csv_field(messages[i]);
  }
  return record;
}

std::string new_run_id() {
  static std::atomic<std::uint64_t> calls{0};
  std::string time = iso_time(std::chrono::system_clock::now());  // 2026-11-21T21:47:31.123Z
  std::erase(time, '-');
  std::erase(time, ':');
  return time + '-' + std::to_string(::getpid()) + '-' + std::to_string(++calls);
}

std::string csv_row(const ReceivedJob& job, std::string_view run) {
  std::vector<std::string> errors;
  errors.reserve(job.errors.size());
  for (const ErrorRecord& error : job.errors) errors.push_back(error.message);
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f",
                std::chrono::duration<double, std::milli>(job.duration).count());
  std::string row;
  row += std::to_string(job.id) + ',';
  row += csv_field(job.name) + ',';
  row += std::string(to_string(job.state)) + ',';
  row += std::to_string(job.input_index) + ',';
  row += iso_time(job.queued) + ',';
  row += iso_time(job.started) + ',';
  row += iso_time(job.finished) + ',';
  row += std::string(duration) + ',';
  row += job.had_errors() ? "true," : "false,";
  row += csv_field(csv_list(errors)) + ',';
  row += csv_field(csv_list(job.warnings)) + ',';
  row += csv_field(run);
  row += "\r\n";
  return row;
}

namespace {
[[noreturn]] void throw_log_error(int error, const char* what, const std::filesystem::path& path) {
  throw std::system_error(
      error, std::generic_category(),
      std::string("rsp: cannot ") + what + " the job log '" + path.string() + "'");
}
}  // namespace

namespace {
Mutex append_mutex;  // one header, whole rows, across receivers of this process
}

JobLog::JobLog(std::filesystem::path path) : path_(std::move(path)), run_(new_run_id()) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_log_error(errno, "open", path_);
  try {
    append({});  // a new log gets its header even if no job comes
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

JobLog::~JobLog() { ::close(fd_); }

void JobLog::append(const std::vector<std::string>& rows) {
  Lock lock(append_mutex);
  struct stat info {};
  std::string text;
  if (::fstat(fd_, &info) == 0 && info.st_size == 0) text = csv_header();
  for (const std::string& row : rows) text += row;
  if (text.empty()) return;
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_log_error(errno, "write", path_);
    }
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace rsp::detail
