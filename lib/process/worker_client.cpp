#include "process/worker_client.hpp"

namespace rsp::process {

WorkerClient::~WorkerClient() { close(); }

void WorkerClient::start() {
  process_ = std::make_unique<WorkerProcess>();
  WorkerChannels channels = process_->release_channels();
  jobs_ = std::make_unique<SocketTransport>(channels.jobs);
  control_ = std::make_unique<SocketTransport>(channels.control);
}

Opened WorkerClient::open(const Hello& session) {
  try {
    jobs_->send(encode(session));
    std::optional<std::string> bytes = jobs_->receive();
    if (!bytes) throw TransportError("rsp: worker channel: the worker ended opening its session");
    Message message = decode(*bytes);
    if (auto* opened = std::get_if<Opened>(&message)) return std::move(*opened);
    throw ProtocolError("rsp: worker channel: unexpected " + std::string(message_name(message)) +
                        " message from a worker opening its session");
  } catch (...) {
    gone_.store(true);
    process_->kill();  // dead, or not to be trusted
    throw;
  }
}

JobReply WorkerClient::run(const Job& job, JobEvents& events) {
  try {
    jobs_->send(encode(job));
  } catch (const TransportError&) {
    // The worker's end is closed: it ended before it could read this job.
    gone_.store(true);
    return JobReply{.end = JobReply::End::NotSent};
  }
  try {
    while (std::optional<std::string> bytes = jobs_->receive()) {
      Message message = decode(*bytes);
      if (auto* record = std::get_if<StreamRecord>(&message)) {
        if (record->id == job.id) events.on_stream(std::move(*record));
      } else if (auto* finished = std::get_if<Finished>(&message)) {
        if (finished->id == job.id) {
          return JobReply{.end = JobReply::End::Finished, .finished = std::move(*finished)};
        }
      } else {
        throw ProtocolError("rsp: worker channel: unexpected " +
                            std::string(message_name(message)) + " message from a worker");
      }
    }
  } catch (const std::exception& e) {
    // A broken channel or protocol: this worker cannot be trusted with another job.
    trouble_ = e.what();
    process_->kill();
  }
  gone_.store(true);
  return JobReply{.end = JobReply::End::WorkerDied};
}

std::string WorkerClient::death() {
  std::string description = process_->wait_or_kill(std::chrono::milliseconds(2000));
  if (!trouble_.empty()) description += " after a channel error: " + trouble_;
  return description;
}

void WorkerClient::request_stop(JobId id) noexcept {
  try {
    if (control_) control_->send(encode(Stop{id}));
  } catch (const std::exception&) {
    // Gone: the running job's reply says so.
  }
}

void WorkerClient::kill() noexcept {
  gone_.store(true);
  if (process_) process_->kill();
}

void WorkerClient::reap_killed(std::chrono::milliseconds limit) noexcept {
  if (!process_) return;
  try {
    process_->wait_for(limit);
  } catch (...) {
    // Out of memory describing it: the owner's death() or close() reaps it.
  }
}

void WorkerClient::close(std::chrono::milliseconds grace) {
  if (!process_) return;
  if (jobs_ && !gone_.load()) {
    try {
      jobs_->send(encode(Bye{}));
    } catch (const std::exception&) {
      // Already gone.
    }
  }
  if (control_) control_->close();  // its reader ends too, stopping any job a thread left
  process_->wait_or_kill(grace);
  jobs_.reset();
  control_.reset();
  process_.reset();
}

}  // namespace rsp::process
