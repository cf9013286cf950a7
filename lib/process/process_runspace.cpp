#include "process/process_runspace.hpp"

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
#include "rsparallel/script.hpp"

namespace rsp::process {
namespace {

using detail::Clock;
using detail::JobPtr;
using detail::Lock;

// How long abandoning a runspace waits for its killed worker to be reaped (typically 1-5 ms).
constexpr std::chrono::milliseconds kReapWait{200};

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

class ProcessRunspace final : public detail::RunspaceDriver {
 public:
  ProcessRunspace(std::shared_ptr<const WorkerSession> session, std::size_t max_jobs)
      : session_(std::move(session)), max_jobs_(max_jobs) {}

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
      if (client_) {
        client_->kill();  // the running job's reply ends; serve() then ends
        // A killed process ends within milliseconds: reaped here, a pool destroyed with a hung
        // job leaves no zombie behind when its destructor returns.
        client_->reap_killed(kReapWait);
      }
    }
    if (thread_.joinable()) thread_.detach();
  }

  bool join_until(Clock::time_point deadline) override {
    return detail::join_thread_until(thread_, deadline);
  }

 private:
  // Applies what a job writes in its worker, as it comes.
  class Streams final : public JobEvents {
   public:
    explicit Streams(detail::JobRecord& job) : job_(job) {}
    void on_stream(StreamRecord record) override { apply(job_, std::move(record)); }

   private:
    detail::JobRecord& job_;
  };

  // A fresh worker with its session open; on failure the reason, for the jobs it would have
  // run.
  std::optional<ErrorRecord> open_worker(std::size_t index) {
    close_worker();
    auto client = std::make_unique<WorkerClient>();
    try {
      client->start();
    } catch (...) {
      ErrorRecord error = detail::describe_current_exception();
      error.message = "runspace " + std::to_string(index) +
                      " failed to start its worker process: " + error.message;
      return error;
    }
    WorkerClient& opening = *client;
    {
      // Published before the session opens: an open hook that hangs is killed like a job.
      Lock lock(mutex_);
      client_ = std::move(client);
      worker_ok_ = true;
      jobs_run_ = 0;
    }
    Hello hello{.runspace_index = index,
                .variables = session_->variables,
                .open_hook = session_->open_hook,
                .close_hook = session_->close_hook};
    std::optional<ErrorRecord> error;
    try {
      Opened opened = opening.open(hello);
      if (opened.has_error) error = error_record(opened.error_message, opened.error_type);
    } catch (...) {
      error = detail::describe_current_exception();
      error->message = "its worker process " + opening.death() + " (" + error->message + ")";
    }
    if (!error) return std::nullopt;
    error->message = "runspace " + std::to_string(index) + " failed to open: " + error->message;
    close_worker();
    return error;
  }

  void close_worker() {
    std::unique_ptr<WorkerClient> client;
    {
      Lock lock(mutex_);
      client = std::move(client_);
    }
    if (client) client->close(std::chrono::milliseconds(500));  // outside the lock: it waits
  }

  // Sends the job and reads what comes back until the worker finishes it or dies. A worker
  // found gone before it took the job is replaced once, and the job sent to the new one: a job
  // it never started is not its crash.
  detail::JobOutcome run_remote(detail::JobRecord& job, std::size_t index) {
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
    Streams streams(job);
    for (int attempt = 0;; ++attempt) {
      WorkerClient* client = nullptr;  // replaced only by this thread, so usable unlocked
      {
        Lock lock(mutex_);
        if (!client_ || !worker_ok_) {
          return {JobState::Failed,
                  error_record("the runspace has no worker process", "rsp::RunspaceCrashed")};
        }
        running_ = job.id;
        client = client_.get();
      }
      JobReply reply = client->run(message, streams);
      {
        Lock lock(mutex_);
        running_ = 0;
        ++jobs_run_;
        if (reply.end != JobReply::End::Finished) worker_ok_ = false;
      }
      if (reply.end == JobReply::End::Finished) {
        detail::JobOutcome outcome{reply.finished.state, std::nullopt};
        if (reply.finished.has_error) {
          outcome.error = error_record(std::move(reply.finished.error_message),
                                       std::move(reply.finished.error_type));
        }
        return outcome;
      }
      std::string description = client->death();
      if (reply.end == JobReply::End::NotSent && attempt == 0) {
        if (std::optional<ErrorRecord> error = open_worker(index)) return {JobState::Failed, error};
        continue;
      }
      std::string text = "runspace's worker process " + description;
      return {JobState::Failed, ErrorRecord{text, "rsp::RunspaceCrashed",
                                            std::make_exception_ptr(RunspaceCrashed(text))}};
    }
  }

  void serve(const std::weak_ptr<detail::RunspaceHost>& weak,
             const std::shared_ptr<detail::RunspaceSlot>& slot) {
    std::shared_ptr<detail::RunspaceHost> host = weak.lock();
    if (!host) return;
    std::size_t index = slot->runspace.index();
    std::optional<ErrorRecord> open_error = open_worker(index);
    if (open_error) host->note_open_error(open_error->message);
    auto run = [&](const JobPtr& job) {
      return detail::run_on_runspace(host, weak, slot, job, [&](detail::JobRecord& record, auto) {
        return run_remote(record, index);
      });
    };
    auto after = [&](const detail::JobRecord&) {
      if (!open_error && needs_new_worker()) {  // after a crash, or max_jobs jobs
        open_error = open_worker(index);
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
    return !worker_ok_ || !client_ || (max_jobs_ != 0 && jobs_run_ >= max_jobs_);
  }

  const std::shared_ptr<const WorkerSession> session_;
  const std::size_t max_jobs_;
  boost::thread thread_;

  // Lock order: after RunspaceSlot::mutex (interrupt() and abandon() come with it held); a leaf
  // otherwise. Guards what those two calls, from other threads, need: the worker and its job.
  detail::Mutex mutex_;
  std::unique_ptr<WorkerClient> client_ RSP_GUARDED_BY(mutex_);
  JobId running_ RSP_GUARDED_BY(mutex_) = 0;
  bool worker_ok_ RSP_GUARDED_BY(mutex_) = false;  // false once it died or broke the protocol
  std::size_t jobs_run_ RSP_GUARDED_BY(mutex_) = 0;
};

}  // namespace

std::unique_ptr<detail::RunspaceDriver> make_process_runspace(
    std::shared_ptr<const WorkerSession> session, std::size_t max_jobs) {
  return std::make_unique<ProcessRunspace>(std::move(session), max_jobs);
}

WorkerSession worker_session(const SessionState& session) {
  WorkerSession crossing;
  for (const auto& [name, value] : session.variables) {
    try {
      crossing.variables.emplace_back(name, encode_value(value));
    } catch (const std::exception& e) {
      throw std::invalid_argument("PoolOptions::session.variables[\"" + name +
                                  "\"] cannot cross to a worker process: " + e.what());
    }
  }
  // RunspacePool checked that hooks, if set, are registered ones.
  if (const auto* open = session.open.target<SessionHook>()) crossing.open_hook = open->name();
  if (const auto* close = session.close.target<SessionHook>()) crossing.close_hook = close->name();
  return crossing;
}

}  // namespace rsp::process
