// The messages a pool and its worker processes exchange, and their encoding: a plain binary
// envelope (protocol.cpp says why not a Boost archive); the values inside (inputs, outputs,
// variables) are Boost archives made by the value codec.
//
// Two channels, so that each end's reader is the thread that acts on what it reads (a job's
// round trip is then two wake-ups, one per side):
//   jobs:    pool -> worker: Hello (once, first), Job, Bye
//            worker -> pool: Opened (the answer to Hello), StreamRecord (as a job writes),
//                            Finished
//   control: pool -> worker: Stop (read by a worker thread that is idle until then)
// A worker reads its next Job only once it is idle, so a Job it has read is a job it runs: no
// Started message is needed (protocol version 1 had one; it cost a message per job).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "rsparallel/job.hpp"

namespace rsp::process {

/// Bumped whenever a message changes shape.
inline constexpr std::uint32_t kProtocolVersion = 2;

/// The session a worker's runspace starts with. Variable values are encoded by the value codec;
/// hooks are named as registered (rsp::register_session_hook), empty for none.
struct Hello {
  std::uint32_t version = kProtocolVersion;
  std::uint64_t runspace_index = 0;
  std::vector<std::pair<std::string, std::string>> variables;  // name, encoded value
  std::string open_hook;
  std::string close_hook;  // run by the worker when the pool lets it go
};

/// The worker's session is open: its open hook ran, or failed with this error.
struct Opened {
  bool has_error = false;
  std::string error_message;
  std::string error_type;
};

/// Run the registered script `script` over `input_count` inputs (encoded by the script's entry).
struct Job {
  JobId id = 0;
  std::string name;  // the batch's name, for JobContext::name()
  std::uint64_t input_index = 0;
  std::string script;
  std::uint64_t input_count = 0;
  std::string inputs;
  std::int64_t timeout_ms = 0;  // 0: none
};

enum class StreamKind : std::uint8_t {
  Output,
  Error,
  Warning,
  Verbose,
  Debug,
  Information,
  Progress
};

/// One write to one of a job's streams, sent as it happens. `payload` is the encoded value for
/// Output, else the text (Progress: its status, with `percent`).
struct StreamRecord {
  JobId id = 0;
  StreamKind kind = StreamKind::Output;
  std::int32_t percent = 0;
  std::string payload;
};

/// The job's final state and, when it ended with an error, that error's message and type.
struct Finished {
  JobId id = 0;
  JobState state = JobState::Completed;
  bool has_error = false;
  std::string error_message;
  std::string error_type;
};

struct Stop {
  JobId id = 0;
};

struct Bye {};

using Message = std::variant<Hello, Job, StreamRecord, Finished, Stop, Bye, Opened>;

/// Bytes that do not decode as a message (a version mismatch, a corrupt frame).
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode(const Message& message);
/// Throws ProtocolError for bytes that are not one whole message.
Message decode(std::string_view bytes);

/// "Hello", "Job", ... for messages about unexpected messages.
std::string_view message_name(const Message& message) noexcept;

}  // namespace rsp::process
