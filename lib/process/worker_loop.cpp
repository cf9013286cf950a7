#include "process/worker_loop.hpp"

#include <unistd.h>

#include <boost/thread/exceptions.hpp>
#include <cstdio>
#include <iostream>
#include <utility>

#include "detail/errors.hpp"
#include "detail/thread_start.hpp"
#include "process/channel_sink.hpp"
#include "process/value_codec.hpp"
#include "rsparallel/script.hpp"

namespace rsp::process {

namespace {

Finished finished_with(JobId id, JobState state, const std::optional<ErrorRecord>& error) {
  Finished finished{.id = id, .state = state};
  if (error) {
    finished.has_error = true;
    finished.error_message = error->message;
    finished.error_type = error->type;
  }
  return finished;
}

void complain(const std::string& what) {
  std::cerr << "rsp worker " << ::getpid() << ": " << what << std::endl;
}

}  // namespace

// run() always ends through leave(), which joins the job or ends the process; this is for a
// loop that never ran.
WorkerLoop::~WorkerLoop() { leave(0); }

int WorkerLoop::run() {
  jobs_thread_ = boost::thread([this] { serve_jobs(); });
  int code = 0;
  for (;;) {
    Message message;
    try {
      std::optional<std::string> bytes = control_.receive();
      if (!bytes) break;  // the pool closed the channel, or the jobs thread ended
      message = decode(*bytes);
    } catch (const std::exception& e) {
      complain(e.what());
      code = 2;
      break;
    }
    if (auto* stop_message = std::get_if<Stop>(&message)) {
      stop(stop_message->id);
    } else {
      complain("unexpected " + std::string(message_name(message)) + " message on control");
      code = 2;
      break;
    }
  }
  return leave(code);
}

void WorkerLoop::serve_jobs() {
  for (;;) {
    Message message;
    try {
      std::optional<std::string> bytes = jobs_.receive();
      if (!bytes) break;  // the pool closed the channel, or ended
      message = decode(*bytes);
    } catch (const std::exception& e) {
      complain(e.what());
      jobs_code_.store(2);
      break;
    }
    if (auto* hello = std::get_if<Hello>(&message)) {
      std::map<std::string, std::any, std::less<>> variables;
      try {
        for (auto& [name, value] : hello->variables) variables[name] = decode_value(value);
      } catch (const std::exception& e) {
        complain(std::string("session variable: ") + e.what());
        jobs_code_.store(2);
        break;
      }
      runspace_.emplace(hello->runspace_index, std::move(variables));
      close_hook_ = std::move(hello->close_hook);
      if (!open_session(hello->open_hook)) break;
    } else if (auto* job = std::get_if<Job>(&message)) {
      if (!runspace_) {
        complain("a job came before the session");
        jobs_code_.store(2);
        break;
      }
      run_job(std::move(*job));
    } else if (std::holds_alternative<Bye>(message)) {
      break;
    } else {
      complain("unexpected " + std::string(message_name(message)) + " message on jobs");
      jobs_code_.store(2);
      break;
    }
  }
  if (runspace_ && !close_hook_.empty()) {
    try {
      detail::find_session_hook(close_hook_)(*runspace_);
    } catch (...) {
      // As on threads: a close hook has nobody left to report to.
    }
  }
  control_.close();  // wakes run()
}

bool WorkerLoop::open_session(const std::string& open_hook) {
  Opened opened;
  if (!open_hook.empty()) {
    try {
      detail::find_session_hook(open_hook)(*runspace_);
    } catch (...) {
      ErrorRecord error = detail::describe_current_exception();
      opened = Opened{.has_error = true,
                      .error_message = std::move(error.message),
                      .error_type = std::move(error.type)};
    }
  }
  try {
    jobs_.send(encode(opened));
    return true;
  } catch (const TransportError&) {
    return false;  // the pool is gone
  }
}

void WorkerLoop::run_job(Job job) {
  auto sink = std::make_shared<ChannelSink>(jobs_, job);
  recent_.push_back(sink);
  if (recent_.size() > kRecentContexts) recent_.pop_front();
  detail::consume_stale_interrupt();
  std::stop_token token;
  bool stopped_already = false;
  {
    detail::Lock lock(mutex_);
    current_ = job.id;
    stop_ = std::stop_source();  // a late stop of the job before reaches only that job's source
    token = stop_.get_token();
    stopped_already = std::exchange(early_stop_, 0) == job.id;
    timed_out_ = false;
    if (job.timeout_ms > 0) {
      deadline_ = Clock::now() + std::chrono::milliseconds(job.timeout_ms);
      if (!watcher_.joinable()) watcher_ = std::thread([this] { watch_timeouts(); });
    }
  }
  if (job.timeout_ms > 0) deadline_changed_.notify_all();
  if (stopped_already) stop(job.id);

  JobContext& context = sink->open(*runspace_, token);
  JobState outcome = JobState::Completed;
  std::optional<ErrorRecord> error;
  try {
    detail::find_script(job.script).run(job.inputs, job.input_count, context);
  } catch (const JobStopped&) {
    outcome = token.stop_requested() ? JobState::Stopped : JobState::Failed;
    if (outcome == JobState::Failed) error = detail::describe_current_exception();
  } catch (const boost::thread_interrupted&) {
    outcome = token.stop_requested() ? JobState::Stopped : JobState::Failed;
    if (outcome == JobState::Failed) error = detail::describe_current_exception();
  } catch (...) {
    outcome = JobState::Failed;
    error = detail::describe_current_exception();
  }
  bool timed_out = false;
  {
    detail::Lock lock(mutex_);
    current_ = 0;
    deadline_ = Clock::time_point::max();
    timed_out = timed_out_;
  }
  if (timed_out && outcome == JobState::Stopped) {
    outcome = JobState::TimedOut;
    error = ErrorRecord{"timed out after " + std::to_string(job.timeout_ms) + " ms",
                        "rsp::JobTimedOut", nullptr};
  }
  sink->close();
  try {
    jobs_.send(encode(finished_with(job.id, outcome, error)));
  } catch (const TransportError&) {
    // The pool is gone: the next receive sees the end.
  }
}

void WorkerLoop::stop(JobId id) {
  std::stop_source source;
  {
    detail::Lock lock(mutex_);
    if (id == 0) return;
    if (current_ != id) {
      early_stop_ = id;  // for a job not read yet; a stale one is dropped at the next start
      return;
    }
    source = stop_;
  }
  // Outside the lock: the request runs the job's stop callbacks. Before the interrupt, so that
  // an interrupted job sees its stop requested and ends Stopped, not Failed.
  source.request_stop();
  detail::Lock lock(mutex_);
  if (current_ == id) jobs_thread_.interrupt();  // wakes Boost.Thread sleeps and waits
}

void WorkerLoop::watch_timeouts() {
  detail::Lock lock(mutex_);
  while (!ending_) {
    if (deadline_ == Clock::time_point::max()) {
      lock.wait(deadline_changed_);
      continue;
    }
    Clock::time_point deadline = deadline_;
    lock.wait_until(deadline_changed_, deadline);
    if (ending_ || deadline_ != deadline || Clock::now() < deadline) continue;
    timed_out_ = true;
    deadline_ = Clock::time_point::max();
    JobId id = current_;
    lock.unlock();
    stop(id);
    lock.lock();
  }
}

int WorkerLoop::leave(int code) {
  if (jobs_thread_.joinable()) {
    JobId running = 0;
    {
      detail::Lock lock(mutex_);
      running = current_;
    }
    stop(running);
    jobs_.close();  // an idle jobs thread sees the end
    if (!jobs_thread_.try_join_for(boost::chrono::milliseconds(kEndGrace.count()))) {
      // A job that ignores its stop cannot be joined, and returning from main under it would
      // destroy what it uses: end here.
      std::fflush(nullptr);
      ::_exit(code);
    }
  }
  {
    detail::Lock lock(mutex_);
    ending_ = true;
  }
  deadline_changed_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  return code != 0 ? code : jobs_code_.load();
}

}  // namespace rsp::process
