#include "rsparallel/job_context.hpp"

#include <algorithm>

#include "detail/any_text.hpp"
#include "detail/batch_core.hpp"
#include "detail/job_record.hpp"

namespace rsp {

JobId JobContext::id() const noexcept { return sink_ != nullptr ? sink_->id() : record_->id; }

// From the batch, not the record's data: a receiver may already own that data.
const std::string& JobContext::name() const noexcept {
  return sink_ != nullptr ? sink_->name() : record_->batch->name;
}

std::size_t JobContext::input_index() const noexcept {
  return sink_ != nullptr ? sink_->input_index() : record_->input_index;
}

void JobContext::write_output(std::any value) {
  detail::own_text(value);
  if (sink_ != nullptr) return sink_->write_output(std::move(value));
  record_->write([&](ReceivedJob& data) { data.output.push_back(std::move(value)); });
}

void JobContext::write_error(std::string message) {
  if (sink_ != nullptr) return sink_->write_error(std::move(message));
  record_->write([&](ReceivedJob& data) {
    data.errors.push_back(ErrorRecord{std::move(message), "rsp::WriteError", nullptr});
  });
}

void JobContext::write_warning(std::string message) {
  if (sink_ != nullptr) return sink_->write_text(detail::TextStream::Warning, std::move(message));
  record_->write([&](ReceivedJob& data) { data.warnings.push_back(std::move(message)); });
}

void JobContext::write_verbose(std::string message) {
  if (sink_ != nullptr) return sink_->write_text(detail::TextStream::Verbose, std::move(message));
  record_->write([&](ReceivedJob& data) { data.verbose.push_back(std::move(message)); });
}

void JobContext::write_debug(std::string message) {
  if (sink_ != nullptr) return sink_->write_text(detail::TextStream::Debug, std::move(message));
  record_->write([&](ReceivedJob& data) { data.debug.push_back(std::move(message)); });
}

void JobContext::write_information(std::string message) {
  if (sink_ != nullptr)
    return sink_->write_text(detail::TextStream::Information, std::move(message));
  record_->write([&](ReceivedJob& data) { data.information.push_back(std::move(message)); });
}

void JobContext::write_progress(int percent, std::string status) {
  percent = std::clamp(percent, 0, 100);
  if (sink_ != nullptr) return sink_->write_progress(percent, std::move(status));
  record_->write([&](ReceivedJob& data) {
    data.progress = ProgressRecord{percent, std::move(status)};
  });
}

void JobContext::check_stop() {
  if (token_.stop_requested()) {
    throw JobStopped("rsp: job " + std::to_string(id()) + " was asked to stop");
  }
}

}  // namespace rsp
