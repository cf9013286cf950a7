// A worker's JobContext target: each write becomes a StreamRecord sent at once, so that a job
// whose process dies later keeps everything it wrote before.
#pragma once

#include <optional>
#include <stop_token>
#include <string>

#include "detail/mutex.hpp"
#include "process/protocol.hpp"
#include "process/transport.hpp"
#include "rsparallel/job_context.hpp"

namespace rsp::process {

/// Thread Safety: the writes are safe from the job's thread and the threads it starts, at once;
/// open once, before the job runs; close from the job's thread when it ends.
class ChannelSink final : public detail::ContextSink {
 public:
  ChannelSink(Transport& transport, const Job& job)
      : transport_(transport), id_(job.id), name_(job.name), input_index_(job.input_index) {}

  /// The job's context, writing here.
  JobContext& open(Runspace& runspace, std::stop_token token) {
    return context_.emplace(key(), *this, runspace, std::move(token));
  }

  /// Later writes (from threads the job left running) are dropped: the job has finished.
  void close();

  JobId id() const noexcept override { return id_; }
  const std::string& name() const noexcept override { return name_; }
  std::size_t input_index() const noexcept override { return input_index_; }
  /// A value that cannot cross throws std::invalid_argument naming its type, to the writer.
  void write_output(std::any value) override;
  void write_error(std::string message) override;
  void write_text(detail::TextStream stream, std::string message) override;
  void write_progress(int percent, std::string status) override;

 private:
  void send(StreamKind kind, std::string payload, int percent = 0);

  Transport& transport_;
  JobId id_;
  std::string name_;
  std::size_t input_index_;
  // Orders writes against close: none is sent after the job's Finished. Lock order: before the
  // transport's send mutex (a write is sent under it).
  detail::Mutex mutex_;
  bool closed_ RSP_GUARDED_BY(mutex_) = false;
  std::optional<JobContext> context_;
};

}  // namespace rsp::process
