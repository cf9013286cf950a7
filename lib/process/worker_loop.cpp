#include "process/worker_loop.hpp"

#include <unistd.h>

#include <boost/thread/exceptions.hpp>
#include <cstdio>
#include <iostream>

#include "detail/errors.hpp"
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

}  // namespace

void WorkerLoop::Running::request_stop() {
  stop.request_stop();
  thread.interrupt();  // wakes Boost.Thread sleeps and waits
}

// run() always ends through leave(), which joins the job or ends the process; this is for a
// loop that never ran.
WorkerLoop::~WorkerLoop() { leave(0); }

int WorkerLoop::run() {
  for (;;) {
    std::optional<std::string> bytes;
    Message message;
    try {
      bytes = transport_.receive();
      if (!bytes) break;  // the pool closed the channel, or ended
      message = decode(*bytes);
    } catch (const std::exception& e) {
      std::cerr << "rsp worker " << ::getpid() << ": " << e.what() << std::endl;
      return leave(2);
    }
    if (auto* hello = std::get_if<Hello>(&message)) {
      std::map<std::string, std::any, std::less<>> variables;
      try {
        for (auto& [name, value] : hello->variables) variables[name] = decode_value(value);
      } catch (const std::exception& e) {
        std::cerr << "rsp worker " << ::getpid() << ": session variable: " << e.what() << std::endl;
        return leave(2);
      }
      runspace_.emplace(hello->runspace_index, std::move(variables));
    } else if (auto* job = std::get_if<Job>(&message)) {
      if (!runspace_) {
        std::cerr << "rsp worker " << ::getpid() << ": a job came before the session" << std::endl;
        return leave(2);
      }
      start(std::move(*job));
    } else if (auto* stop = std::get_if<Stop>(&message)) {
      if (current_ && current_->id == stop->id) current_->request_stop();
    } else if (std::holds_alternative<Bye>(message)) {
      break;
    } else {
      std::cerr << "rsp worker " << ::getpid() << ": unexpected " << message_name(message)
                << " message" << std::endl;
      return leave(2);
    }
  }
  return leave(0);
}

int WorkerLoop::leave(int code) {
  if (!end_current(true, kEndGrace)) {
    // A job that ignores its stop cannot be joined, and returning from main under it would
    // destroy what it uses: end here.
    std::fflush(nullptr);
    ::_exit(code);
  }
  return code;
}

void WorkerLoop::start(Job job) {
  end_current(false, {});  // the previous job has sent Finished; join its thread
  auto sink = std::make_shared<ChannelSink>(transport_, job);
  recent_.push_back(sink);
  if (recent_.size() > kRecentContexts) recent_.pop_front();
  current_ = std::make_unique<Running>();
  Running& running = *current_;
  running.id = job.id;
  std::chrono::milliseconds timeout(job.timeout_ms);
  // Started, and the timeout's clock, before the thread: a stop can then never precede them.
  try {
    transport_.send(encode(Started{job.id}));
  } catch (const TransportError&) {
    // The pool is gone; the receive loop sees the end next.
  }
  running.thread =
      boost::thread([this, job = std::move(job), sink, &running] { run_job(job, *sink, running); });
  if (timeout.count() > 0) {
    running.watcher = std::thread([&running, timeout] {
      std::unique_lock lock(running.mutex);
      if (running.ended_cv.wait_for(lock, timeout, [&] { return running.ended; })) return;
      running.timed_out = true;
      lock.unlock();
      running.request_stop();
    });
  }
}

void WorkerLoop::run_job(const Job& job, ChannelSink& sink, Running& running) {
  JobContext& context = sink.open(*runspace_, running.stop.get_token());
  std::stop_token token = running.stop.get_token();
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
    std::lock_guard lock(running.mutex);
    running.ended = true;
    timed_out = running.timed_out;
  }
  running.ended_cv.notify_all();
  if (timed_out && outcome == JobState::Stopped) {
    outcome = JobState::TimedOut;
    error = ErrorRecord{"timed out after " + std::to_string(job.timeout_ms) + " ms",
                        "rsp::JobTimedOut", nullptr};
  }
  sink.close();
  try {
    transport_.send(encode(finished_with(job.id, outcome, error)));
  } catch (const TransportError&) {
    // The pool is gone: nobody to tell.
  }
}

bool WorkerLoop::end_current(bool stop, std::chrono::milliseconds grace) {
  if (!current_) return true;
  Running& running = *current_;
  if (stop) {
    running.request_stop();
    if (!running.thread.try_join_for(boost::chrono::milliseconds(grace.count()))) return false;
  } else {
    running.thread.join();
  }
  if (running.watcher.joinable()) running.watcher.join();
  current_.reset();
  return true;
}

}  // namespace rsp::process
