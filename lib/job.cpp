#include "rsparallel/job.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>

namespace rsp {

std::string_view to_string(JobState state) noexcept {
  switch (state) {
    case JobState::NotStarted:
      return "NotStarted";
    case JobState::Running:
      return "Running";
    case JobState::Completed:
      return "Completed";
    case JobState::Failed:
      return "Failed";
    case JobState::Stopped:
      return "Stopped";
    case JobState::TimedOut:
      return "TimedOut";
  }
  return "Unknown";
}

std::ostream& operator<<(std::ostream& out, JobState state) {
  // As for a string: the stream's width and fill apply to the whole name.
  return out << to_string(state);
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  // The standard library's own spelling of std::string is noise in an error message.
  const std::string verbose =
      "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
  for (std::size_t at = name.find(verbose); at != std::string::npos; at = name.find(verbose, at))
    name.replace(at, verbose.size(), "std::string");
  return name;
}

void ReceivedJob::throw_output_type_error(std::size_t position,
                                          const std::type_info& wanted) const {
  throw OutputTypeError("rsp::ReceivedJob::output_as: job " + std::to_string(id) + " '" + name +
                        "' output " + std::to_string(position) + " holds " +
                        type_name(output[position].type()) + ", not " + type_name(wanted));
}

void detail::throw_not_completed(const ReceivedJob& job) {
  std::string inputs = job.input_count <= 1
                           ? "input " + std::to_string(job.input_index)
                           : "inputs " + std::to_string(job.input_index) + ".." +
                                 std::to_string(job.input_index + job.input_count - 1);
  std::string message = "rsp::outputs_as: job " + std::to_string(job.id) + " '" + job.name + "' (" +
                        inputs + ") ended " + std::string(to_string(job.state));
  if (!job.errors.empty()) message += ": " + job.errors.back().message;
  throw JobFailed(message);
}

}  // namespace rsp
