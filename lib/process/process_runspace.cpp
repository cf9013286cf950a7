#include "process/process_runspace.hpp"

#include <condition_variable>
#include <optional>
#include <stdexcept>

#include "detail/batch_core.hpp"
#include "detail/clock.hpp"
#include "detail/errors.hpp"
#include "detail/mutex.hpp"
#include "detail/runspace_loop.hpp"
#include "detail/thread_start.hpp"
#include "process/value_codec.hpp"
#include "process/worker_client.hpp"
#include "rsparallel/runspace_crashed.hpp"

namespace rsp::process {
namespace {

using detail::Clock;
using detail::JobPtr;
using detail::Lock;

ErrorRecord error_record(std::string message, std::string type) {
  auto exception = std::make_exception_ptr(std::runtime_error(message));
  return ErrorRecord{std::move(message), std::move(type), std::move(exception)};
}

// A stream record from the worker, added to the job as the job itself would have written it.
void apply(detail::JobRecord& job, StreamRecord record) {
  if (record.kind == StreamKind::Output) {
    std::any value = decode_value(record.payload);
    job.write([&](ReceivedJob& data) { data.output.push_back(std::move(value)); });
    return;
  }
  job.write([&](ReceivedJob& data) {
    std::string& text = record.payload;
    switch (record.kind) {
      case StreamKind::Error:
        data.errors.push_back(ErrorRecord{std::move(text), {}, nullptr});
        break;
      case StreamKind::Warning:
        data.warnings.push_back(std::move(text));
        break;
      case StreamKind::Verbose:
        data.verbose.push_back(std::move(text));
        break;
      case StreamKind::Debug:
        data.debug.push_back(std::move(text));
        break;
      case StreamKind::Information:
        data.information.push_back(std::move(text));
        break;
      case StreamKind::Progress:
        data.progress = ProgressRecord{record.percent, std::move(text)};
        break;
      case StreamKind::Output:
        break;
    }
  });
}

class ProcessRunspace final : public detail::RunspaceDriver, private WorkerEvents {
 public:
  ProcessRunspace(std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> variables,
                  std::size_t max_jobs)
      : variables_(std::move(variables)), max_jobs_(max_jobs) {}

  ~ProcessRunspace() override { close_worker(); }

  void start(std::shared_ptr<detail::RunspaceHost> host,
             std::shared_ptr<detail::RunspaceSlot> slot) override {
    thread_ = detail::start_thread([this, weak = std::weak_ptr<detail::RunspaceHost>(host),
                                    slot = std::move(slot)] { serve(weak, slot); });
  }

  void interrupt() override {
    Lock lock(mutex_);
    if (client_ && running_ != 0) client_->request_stop(running_);
  }

  void abandon() override {
    {
      Lock lock(mutex_);
      if (client_) client_->kill();  // its reader reports the death; serve() then ends
    }
    if (thread_.joinable()) thread_.detach();
  }

  bool join_until(Clock::time_point deadline) override {
    return detail::join_thread_until(thread_, deadline);
  }

 private:
  void on_started(JobId) override {}

  void on_stream(StreamRecord record) override {
    JobPtr job;
    {
      Lock lock(mutex_);
      if (running_ != record.id) return;
      job = current_;
    }
    if (job) apply(*job, std::move(record));
  }

  void on_finished(Finished finished) override {
    {
      Lock lock(mutex_);
      if (running_ != finished.id) return;
      finished_ = std::move(finished);
    }
    changed_.notify_all();
  }

  void on_died(std::string description) override {
    {
      Lock lock(mutex_);
      died_ = std::move(description);
    }
    changed_.notify_all();
  }

  // A fresh worker; on failure the reason, for the jobs it would have run.
  std::optional<ErrorRecord> open_worker(std::size_t index) {
    close_worker();
    WorkerEvents& events = *this;  // a private base: converted here, where it is accessible
    auto client = std::make_unique<WorkerClient>(events);
    try {
      Hello hello;
      hello.runspace_index = index;
      hello.variables = *variables_;
      client->start(hello);
    } catch (...) {
      ErrorRecord error = detail::describe_current_exception();
      error.message = "runspace " + std::to_string(index) +
                      " failed to start its worker process: " + error.message;
      return error;
    }
    Lock lock(mutex_);
    client_ = std::move(client);
    died_.reset();
    jobs_run_ = 0;
    return std::nullopt;
  }

  void close_worker() {
    std::unique_ptr<WorkerClient> client;
    {
      Lock lock(mutex_);
      client = std::move(client_);
    }
    if (client) client->close(std::chrono::milliseconds(500));  // outside the lock: it joins
  }

  // Sends the job and waits for the worker to finish it or die.
  detail::JobOutcome run_remote(detail::JobRecord& job, const JobPtr& owner) {
    Job message;
    try {
      detail::RemoteWork work;
      if (!job.work->remote(work)) {
        return {JobState::Failed, error_record("a process pool runs registered scripts only "
                                               "(rsp::register_script)",
                                               "std::invalid_argument")};
      }
      message = Job{job.id,
                    job.data.name,
                    job.input_index,
                    std::move(work.script),
                    work.count,
                    std::move(work.inputs),
                    0};
    } catch (...) {
      return {JobState::Failed, detail::describe_current_exception()};
    }
    WorkerClient* client = nullptr;  // replaced only by this thread, so usable unlocked
    {
      Lock lock(mutex_);
      if (!client_ || died_) {
        return {JobState::Failed,
                error_record("the runspace has no worker process", "rsp::RunspaceCrashed")};
      }
      current_ = owner;
      running_ = job.id;
      finished_.reset();
      client = client_.get();
    }
    try {
      // Unlocked: a large job may wait for room in the channel while the worker's writes come
      // back through the event callbacks, which take the lock.
      client->send_job(message);
    } catch (...) {
      // A dead worker: its death is reported too.
    }
    Lock lock(mutex_);
    lock.wait(changed_, [&]() RSP_REQUIRES(mutex_) { return finished_ || died_; });
    detail::JobOutcome outcome;
    if (finished_) {
      outcome.state = finished_->state;
      if (finished_->has_error) {
        outcome.error = error_record(finished_->error_message, finished_->error_type);
      }
    } else {
      std::string message_text = "runspace's worker process " + *died_;
      outcome.error = ErrorRecord{message_text, "rsp::RunspaceCrashed",
                                  std::make_exception_ptr(RunspaceCrashed(message_text))};
    }
    current_ = nullptr;
    running_ = 0;
    ++jobs_run_;
    return outcome;
  }

  void serve(const std::weak_ptr<detail::RunspaceHost>& weak,
             const std::shared_ptr<detail::RunspaceSlot>& slot) {
    std::shared_ptr<detail::RunspaceHost> host = weak.lock();
    if (!host) return;
    std::optional<ErrorRecord> open_error = open_worker(slot->runspace.index());
    if (open_error) host->note_open_error(open_error->message);
    auto run = [&](const JobPtr& job) {
      return detail::run_on_runspace(host, weak, slot, job, [&](detail::JobRecord& record, auto) {
        return run_remote(record, job);
      });
    };
    auto after = [&](const detail::JobRecord&) {
      if (!open_error && needs_new_worker()) {  // after a crash, or max_jobs jobs
        open_error = open_worker(slot->runspace.index());
        if (open_error) host->note_open_error(open_error->message);
      }
    };
    // Abandoned: the worker was killed, and the pool opens another runspace in its place.
    if (!detail::serve_jobs(host, slot, open_error, run, after)) return;
    host.reset();
    close_worker();
  }

  // After a crash, or after max_jobs jobs.
  bool needs_new_worker() {
    Lock lock(mutex_);
    return died_.has_value() || !client_ || (max_jobs_ != 0 && jobs_run_ >= max_jobs_);
  }

  const std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> variables_;
  const std::size_t max_jobs_;
  boost::thread thread_;

  // Lock order: after RunspaceSlot::mutex (interrupt() and abandon() come with it held); a leaf
  // otherwise. The worker's reader thread takes it in the event callbacks.
  detail::Mutex mutex_;
  std::condition_variable changed_;  // finished_ or died_ set
  std::unique_ptr<WorkerClient> client_ RSP_GUARDED_BY(mutex_);
  JobPtr current_ RSP_GUARDED_BY(mutex_);
  JobId running_ RSP_GUARDED_BY(mutex_) = 0;
  std::optional<Finished> finished_ RSP_GUARDED_BY(mutex_);
  std::optional<std::string> died_ RSP_GUARDED_BY(mutex_);
  std::size_t jobs_run_ RSP_GUARDED_BY(mutex_) = 0;
};

}  // namespace

std::unique_ptr<detail::RunspaceDriver> make_process_runspace(
    std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> variables,
    std::size_t max_jobs) {
  return std::make_unique<ProcessRunspace>(std::move(variables), max_jobs);
}

std::vector<std::pair<std::string, std::string>> encoded_variables(const SessionState& session) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : session.variables) {
    try {
      encoded.emplace_back(name, encode_value(value));
    } catch (const std::exception& e) {
      throw std::invalid_argument("PoolOptions::session.variables[\"" + name +
                                  "\"] cannot cross to a worker process: " + e.what());
    }
  }
  return encoded;
}

}  // namespace rsp::process
