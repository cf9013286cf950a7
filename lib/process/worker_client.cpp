#include "process/worker_client.hpp"

namespace rsp::process {

WorkerClient::~WorkerClient() { close(); }

void WorkerClient::start(const Hello& session) {
  process_ = std::make_unique<WorkerProcess>();
  transport_ = std::make_unique<SocketTransport>(process_->release_channel());
  transport_->send(encode(session));
  reader_ = std::thread([this] { read(); });
}

void WorkerClient::send_job(const Job& job) { transport_->send(encode(job)); }

void WorkerClient::request_stop(JobId id) noexcept {
  try {
    transport_->send(encode(Stop{id}));
  } catch (const std::exception&) {
    // Gone: its end is reported by the reader.
  }
}

void WorkerClient::kill() noexcept {
  if (process_) process_->kill();
}

void WorkerClient::read() {
  std::string trouble;
  try {
    while (std::optional<std::string> bytes = transport_->receive()) {
      Message message = decode(*bytes);
      if (auto* started = std::get_if<Started>(&message)) {
        events_.on_started(started->id);
      } else if (auto* record = std::get_if<StreamRecord>(&message)) {
        events_.on_stream(std::move(*record));
      } else if (auto* finished = std::get_if<Finished>(&message)) {
        events_.on_finished(std::move(*finished));
      } else {
        throw ProtocolError("rsp: worker channel: unexpected " +
                            std::string(message_name(message)) + " message from a worker");
      }
    }
  } catch (const std::exception& e) {
    // A broken channel or protocol: this worker cannot be trusted with another job.
    trouble = e.what();
    process_->kill();
  }
  // The worker closed its end: it has ended, or is ending (it exits right after).
  std::string description = process_->wait_or_kill(std::chrono::milliseconds(2000));
  if (!trouble.empty()) description += " after a channel error: " + trouble;
  if (!closing_.load()) events_.on_died(std::move(description));
  {
    std::lock_guard lock(mutex_);
    read_done_ = true;
  }
  read_done_cv_.notify_all();
}

void WorkerClient::close(std::chrono::milliseconds grace) {
  if (!reader_.joinable()) {
    process_.reset();  // never started reading: kill and reap, if spawned at all
    return;
  }
  closing_.store(true);
  try {
    transport_->send(encode(Bye{}));
  } catch (const std::exception&) {
    // Already gone.
  }
  {
    std::unique_lock lock(mutex_);
    if (!read_done_cv_.wait_for(lock, grace, [&] { return read_done_; })) {
      lock.unlock();
      process_->kill();  // the reader then sees the end and reaps it
    }
  }
  reader_.join();
  transport_.reset();
  process_.reset();
}

}  // namespace rsp::process
