// Stress: thousands of jobs over 3 pools sharing one JobRegistry, several batches per pool, each
// input told at random (seeded, seed printed) to return, write every stream, throw (std, custom,
// int), time out, stop cooperatively or ignore its stop; one batch stopped and another force-
// cleared while running; three streaming receivers (two on the registry, one on a pool) racing.
// Then the books must balance: every created job received or cleared exactly once, each in the
// state its input asked for, progress agreeing, and no thread left behind.
//
// RSPARALLEL_STRESS_SCALE, a whole number, multiplies the number of inputs (default 1: about 20,000
// inputs, 12,000 jobs, about 1.5 s in a Debug build); RSPARALLEL_STRESS_SEED replays a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <boost/thread/thread.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {

using rsp_test::Clock;
using rsp_test::eventually;
using rsp_test::scaled;

// Every job stopped while running (a timeout, a stop, a forced clear) must return within this,
// or its runspace is abandoned, which only IgnoreStop jobs may cause: wide for starved threads.
constexpr std::chrono::milliseconds kStopGrace = scaled(std::chrono::milliseconds(200));
// The quick jobs of the timeout batches (about 1 ms of work) must finish within this.
constexpr std::chrono::milliseconds kTimeout = scaled(std::chrono::milliseconds(300));
// How long an IgnoreStop job goes on ignoring its stop once it sees it: well past stop_grace, so
// its runspace is abandoned even when the watcher runs late; short, so it ends soon after.
constexpr std::chrono::milliseconds kIgnoreAfterStop = kStopGrace + scaled(300ms);
// How long a job that waits to be stopped waits at most, should the stop never come.
constexpr std::chrono::milliseconds kStopNeverCame = scaled(std::chrono::milliseconds(20s));

// What one input does.
enum class Act {
  Value,         // returns 2 * input
  Streams,       // writes every stream, a non-terminating error too, then returns
  Sleep,         // an interruptible sleep of about 1 ms, then returns
  ThrowStd,      // std::runtime_error
  ThrowCustom,   // a type not derived from std::exception
  ThrowInt,      // an int
  TimeoutSleep,  // an interruptible sleep far past the timeout (timeout batches only)
  CoopLoop,      // check_stop() in a loop until stopped (timeout, stop and clear batches)
  IgnoreStop,    // std sleeps (deaf to the interrupt) until its timeout stopped it, then on past
                 // stop_grace, so its runspace is abandoned (timeout batches only)
};

struct Boom {
  int code;
};

enum class Kind {
  Plain,    // runs to the end
  Timeout,  // JobOptions::timeout; holds TimeoutSleep, CoopLoop and IgnoreStop inputs
  Stop,     // JobBatch::stop() once one of its CoopLoop jobs runs
  Clear,    // forced clear by name once one of its CoopLoop jobs runs
  Raced,    // runs to the end, while a thread clears its finished jobs (no force) in a loop
};

struct Plan {
  std::string name;
  int pool = 0;
  Kind kind = Kind::Plain;
  std::size_t slice = 1;  // as requested: 0 = automatic
  bool span_script = false;
  std::size_t max_running = 0;
  std::vector<Act> acts;
  std::atomic<int> coop_running{0};
  rsp::JobBatch batch;
  // Tallies of what was received.
  std::size_t received = 0;
  std::size_t cleared = 0;  // by clear_runspace_jobs return values
  std::map<rsp::JobState, std::size_t> by_state;
};

std::size_t stress_scale() {
  if (const char* text = std::getenv("RSPARALLEL_STRESS_SCALE")) {
    double scale = std::strtod(text, nullptr);
    if (scale > 0) return std::max<std::size_t>(1, static_cast<std::size_t>(scale + 0.5));
  }
  return 1;
}

std::uint32_t stress_seed() {
  if (const char* text = std::getenv("RSPARALLEL_STRESS_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
  }
  return std::random_device{}();
}

std::size_t count_threads() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

int value_of(int input) { return 2 * input; }

// Counts the jobs inside a script of this test. An abandoned job goes on reading its plan after
// its pool is gone, so the plans are freed only once no job is inside one; a count of threads
// cannot tell that when other tests' leftover threads end meanwhile.
class InScript {
 public:
  explicit InScript(std::atomic<int>& count) : count_(count) { ++count_; }
  InScript(const InScript&) = delete;
  InScript& operator=(const InScript&) = delete;
  ~InScript() { --count_; }

 private:
  std::atomic<int>& count_;
};

void act(Plan& plan, int i, rsp::JobContext& ctx) {
  std::string n = std::to_string(i);
  switch (plan.acts[static_cast<std::size_t>(i)]) {
    case Act::Value:
      return;
    case Act::Streams:
      ctx.write_output(std::string("s" + n));
      ctx.write_warning("w" + n);
      ctx.write_verbose("v" + n);
      ctx.write_debug("d" + n);
      ctx.write_information("i" + n);
      ctx.write_progress(i % 101, "p" + n);
      ctx.write_error("e" + n);
      return;
    case Act::Sleep:
      boost::this_thread::sleep_for(boost::chrono::microseconds(200 + i % 1000));
      return;
    case Act::ThrowStd:
      throw std::runtime_error("std " + n);
    case Act::ThrowCustom:
      throw Boom{i};
    case Act::ThrowInt:
      throw i;
    case Act::TimeoutSleep:
      boost::this_thread::sleep_for(boost::chrono::seconds(30));
      return;
    case Act::CoopLoop: {
      ++plan.coop_running;
      auto deadline = Clock::now() + kStopNeverCame;
      while (Clock::now() < deadline) {
        ctx.check_stop();
        std::this_thread::sleep_for(1ms);
      }
      return;
    }
    case Act::IgnoreStop: {
      auto deadline = Clock::now() + kStopNeverCame;
      while (!ctx.stop_token().stop_requested() && Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(kIgnoreAfterStop);
      return;
    }
  }
}

// ---- what a job of a plan must hold ---------------------------------------------------------

struct ErrorPattern {
  std::string type;  // exact, or a substring when !exact
  std::string message;
  bool exact = true;
};

struct Expected {
  rsp::JobState state = rsp::JobState::Completed;
  std::vector<std::string> output;
  std::vector<ErrorPattern> errors;
  std::vector<std::string> warnings, verbose, debug, information;
  std::optional<rsp::ProgressRecord> progress;
};

// The job over inputs [first, first + count) if it ran to the end of its own accord, or until
// the input that ends it (a throw, a timeout or a stop).
Expected expected_for(const Plan& plan, std::size_t first, std::size_t count) {
  Expected e;
  for (std::size_t k = first; k < first + count; ++k) {
    std::string n = std::to_string(k);
    int v = value_of(static_cast<int>(k));
    switch (plan.acts[k]) {
      case Act::Value:
      case Act::Sleep:
        e.output.push_back("i:" + std::to_string(v));
        continue;
      case Act::Streams:
        e.output.push_back("s:s" + n);
        e.warnings.push_back("w" + n);
        e.verbose.push_back("v" + n);
        e.debug.push_back("d" + n);
        e.information.push_back("i" + n);
        e.progress = rsp::ProgressRecord{static_cast<int>(k % 101), "p" + n};
        e.errors.push_back({"rsp::WriteError", "e" + n});
        e.output.push_back("i:" + std::to_string(v));
        continue;
      case Act::ThrowStd:
        e.errors.push_back({"std::runtime_error", "std " + n});
        e.state = rsp::JobState::Failed;
        return e;
      case Act::ThrowCustom:
        e.errors.push_back({"Boom", "Boom", false});
        e.state = rsp::JobState::Failed;
        return e;
      case Act::ThrowInt:
        e.errors.push_back({"int", "int", false});
        e.state = rsp::JobState::Failed;
        return e;
      case Act::TimeoutSleep:
      case Act::CoopLoop:
      case Act::IgnoreStop:
        if (plan.kind == Kind::Timeout) {
          e.errors.push_back(
              {"rsp::JobTimedOut", "timed out after " + std::to_string(kTimeout.count()) + " ms"});
          e.state = rsp::JobState::TimedOut;
        } else {
          e.state = rsp::JobState::Stopped;  // only a stop ends a CoopLoop
        }
        return e;
    }
  }
  return e;
}

std::string render(const std::any& value) {
  if (const int* i = std::any_cast<int>(&value)) return "i:" + std::to_string(*i);
  if (const std::string* s = std::any_cast<std::string>(&value)) return "s:" + *s;
  return "?" + rsp::type_name(value.type());
}

template <class T>
bool is_prefix(const std::vector<T>& part, const std::vector<T>& whole) {
  return part.size() <= whole.size() && std::equal(part.begin(), part.end(), whole.begin());
}

bool matches(const rsp::ErrorRecord& got, const ErrorPattern& want) {
  if (want.exact) return got.type == want.type && got.message == want.message;
  return got.type.find(want.type) != std::string::npos &&
         got.message.find(want.message) != std::string::npos;
}

// Empty when the job is what its inputs asked for; else what is wrong.
std::string check_job(const Plan& plan, const rsp::ReceivedJob& job) {
  std::ostringstream problem;
  const std::size_t n = plan.acts.size();
  const std::size_t slice = plan.batch.slice_size();
  if (job.input_index >= n || job.input_index % slice != 0) {
    problem << "input_index " << job.input_index << " is not a slice start";
    return problem.str();
  }
  if (job.input_count != std::min(slice, n - job.input_index)) {
    problem << "input_count " << job.input_count << " for input_index " << job.input_index;
    return problem.str();
  }
  Expected want = expected_for(plan, job.input_index, job.input_count);
  std::vector<std::string> output;
  for (const std::any& value : job.output) output.push_back(render(value));

  if (job.state != want.state) {
    // A batch stopped or cleared may end any of its jobs Stopped, with what it wrote so far.
    bool stoppable = plan.kind == Kind::Stop || plan.kind == Kind::Clear;
    if (job.state == rsp::JobState::Stopped && stoppable) {
      if (!is_prefix(output, want.output)) problem << "Stopped job's output is not a prefix";
      return problem.str();
    }
    problem << "state " << rsp::to_string(job.state) << ", expected " << rsp::to_string(want.state);
    if (!job.errors.empty()) {
      problem << " (last error " << job.errors.back().type << ": " << job.errors.back().message
              << ")";
    }
    return problem.str();
  }
  if (job.state == rsp::JobState::TimedOut || job.state == rsp::JobState::Stopped) {
    // Ended from outside while running: what it wrote so far, plus the timeout record.
    if (!is_prefix(output, want.output)) problem << "output is not a prefix; ";
    if (job.state == rsp::JobState::TimedOut &&
        (job.errors.empty() || !matches(job.errors.back(), want.errors.back()))) {
      problem << "no timeout error record";
    }
    return problem.str();
  }
  if (output != want.output) problem << "output differs; ";
  if (job.warnings != want.warnings) problem << "warnings differ; ";
  if (job.verbose != want.verbose) problem << "verbose differs; ";
  if (job.debug != want.debug) problem << "debug differs; ";
  if (job.information != want.information) problem << "information differs; ";
  if (job.progress.has_value() != want.progress.has_value() ||
      (job.progress && (job.progress->percent != want.progress->percent ||
                        job.progress->status != want.progress->status))) {
    problem << "progress differs; ";
  }
  if (job.errors.size() != want.errors.size()) {
    problem << job.errors.size() << " errors, expected " << want.errors.size();
  } else {
    for (std::size_t i = 0; i < want.errors.size(); ++i) {
      if (!matches(job.errors[i], want.errors[i])) {
        problem << "error " << i << " is " << job.errors[i].type << ": " << job.errors[i].message
                << ", expected " << want.errors[i].type << ": " << want.errors[i].message;
      }
    }
  }
  if (job.had_errors() != !want.errors.empty()) problem << "had_errors wrong; ";
  return problem.str();
}

// ---- the plans --------------------------------------------------------------------------------

// Throws at `throw_per_mille` / 1000, split between the three kinds; the rest returns.
Act random_plain_act(std::mt19937& rng, int throw_per_mille) {
  std::uniform_int_distribution<int> pick(0, 999);
  int r = pick(rng);
  if (r < throw_per_mille / 3) return Act::ThrowStd;
  if (r < throw_per_mille * 2 / 3) return Act::ThrowCustom;
  if (r < throw_per_mille) return Act::ThrowInt;
  r = pick(rng);
  if (r < 450) return Act::Value;
  if (r < 750) return Act::Streams;
  return Act::Sleep;
}

// `count` inputs at distinct random positions in [from, to) get `act`; with `align`, only at
// multiples of it (the first input of a slice, so that no earlier input of its job throws first).
void place(std::vector<Act>& acts, Act act, std::size_t count, std::size_t from, std::size_t to,
           std::mt19937& rng, std::size_t align = 1) {
  std::uniform_int_distribution<std::size_t> at(from, to - 1);
  for (std::size_t placed = 0; placed < count;) {
    std::size_t k = at(rng) / align * align;
    if (acts[k] == Act::TimeoutSleep || acts[k] == Act::CoopLoop || acts[k] == Act::IgnoreStop)
      continue;
    acts[k] = act;
    ++placed;
  }
}

struct Receiver {
  std::string what;
  std::vector<rsp::ReceivedJob> jobs;
  std::size_t returned = 0;
  std::atomic<int> progress_calls{0};
  rsp::Progress last_progress;
  std::size_t jobs_at_last_progress = 0;
  std::exception_ptr error;
  std::set<const Plan*> covers;
};

}  // namespace

TEST(Stress, ThreePoolsOneRegistryEveryJobAccountedFor) {
  const std::size_t scale = stress_scale();
  const std::uint32_t seed = stress_seed();
  std::cout << "[ stress seed ] " << seed << " scale " << scale
            << " (replay with RSPARALLEL_STRESS_SEED=" << seed << ")\n";
  SCOPED_TRACE("stress seed " + std::to_string(seed));
  std::mt19937 rng(seed);

  // A first thread makes any lazily started helper thread (ThreadSanitizer's) exist already.
  std::thread([] {}).join();
  const std::size_t threads_at_start = count_threads();
  auto registry = std::make_shared<rsp::JobRegistry>();
  std::vector<std::shared_ptr<rsp::RunspacePool>> pools;
  pools.push_back(rsp::new_runspace_pool({.min_runspaces = 1,
                                          .max_runspaces = 4,
                                          .idle_timeout = 50ms,
                                          .stop_grace = kStopGrace,
                                          .registry = registry}));
  pools.push_back(rsp::new_runspace_pool({.min_runspaces = 2,
                                          .max_runspaces = 3,
                                          .max_queue = 5,
                                          .stop_grace = kStopGrace,
                                          .registry = registry}));
  {
    rsp::PoolOptions options{.min_runspaces = 1,
                             .max_runspaces = 2,
                             .max_queue = 32,
                             .stop_grace = kStopGrace,
                             .registry = registry};
    options.session.variables["factor"] = 2;
    pools.push_back(rsp::new_runspace_pool(options));
  }

  // name, pool, kind, inputs, slice, span script, max_running
  std::deque<Plan> plans;
  auto add_plan = [&](std::string name, int pool, Kind kind, std::size_t inputs, std::size_t slice,
                      bool span, std::size_t max_running) -> Plan& {
    Plan& plan = plans.emplace_back();
    plan.name = std::move(name);
    plan.pool = pool;
    plan.kind = kind;
    plan.slice = slice;
    plan.span_script = span;
    plan.max_running = max_running;
    // Slices fail at their first throwing input: fewer throws there, for a mix of outcomes.
    int throws = slice == 1 ? 150 : slice == 7 ? 30 : 5;
    for (std::size_t i = 0; i < 2 * inputs * scale; ++i)
      plan.acts.push_back(random_plain_act(rng, throws));
    return plan;
  };
  add_plan("A-plain", 0, Kind::Plain, 1500, 1, false, 0);
  add_plan("A-slice7", 0, Kind::Plain, 2100, 7, false, 2);
  {
    Plan& p = add_plan("A-timeout", 0, Kind::Timeout, 300, 1, false, 0);
    place(p.acts, Act::TimeoutSleep, 3, 0, p.acts.size(), rng);
    place(p.acts, Act::CoopLoop, 2, 0, p.acts.size(), rng);
    place(p.acts, Act::IgnoreStop, 1, 0, p.acts.size(), rng);
  }
  add_plan("B-raced", 1, Kind::Raced, 1500, 1, false, 0);
  add_plan("B-auto", 1, Kind::Plain, 1200, 0, true, 0);
  {
    Plan& p = add_plan("B-clear", 1, Kind::Clear, 900, 1, false, 0);
    place(p.acts, Act::CoopLoop, 1, p.acts.size() / 4, p.acts.size() / 2, rng);
  }
  add_plan("C-plain", 2, Kind::Plain, 1500, 1, false, 0);
  {
    Plan& p = add_plan("C-stop", 2, Kind::Stop, 900, 7, false, 0);
    place(p.acts, Act::CoopLoop, 1, p.acts.size() / 4, p.acts.size() / 2, rng, 7);
  }
  {
    Plan& p = add_plan("C-timeout", 2, Kind::Timeout, 300, 1, false, 0);
    place(p.acts, Act::TimeoutSleep, 2, 0, p.acts.size(), rng);
    place(p.acts, Act::CoopLoop, 1, 0, p.acts.size(), rng);
    place(p.acts, Act::IgnoreStop, 1, 0, p.acts.size(), rng);
  }
  std::map<std::string, Plan*> by_name;
  for (Plan& plan : plans) by_name[plan.name] = &plan;

  // No input is read until every receiver is waiting, so each receiver sees every batch.
  auto inputs_open = std::make_shared<std::latch>(1);
  // Shared with the scripts: an abandoned job may outlive this test's locals.
  auto in_script = std::make_shared<std::atomic<int>>(0);
  for (Plan& plan : plans) {
    Plan* p = &plan;
    auto inputs = std::views::iota(0, static_cast<int>(plan.acts.size())) |
                  std::views::transform([inputs_open](int i) {
                    inputs_open->wait();
                    return i;
                  });
    rsp::JobOptions options{.name = plan.name,
                            .timeout = plan.kind == Kind::Timeout ? kTimeout : 0ms,
                            .slice_size = plan.slice,
                            .max_running = plan.max_running};
    rsp::RunspacePool& pool = *pools[static_cast<std::size_t>(plan.pool)];
    if (plan.span_script) {
      plan.batch = rsp::new_runspace_job(
          pool, std::move(inputs),
          [p, in_script](std::span<const int> xs, rsp::JobContext& ctx) {
            InScript inside(*in_script);
            for (int i : xs) {
              act(*p, i, ctx);
              ctx.write_output(value_of(i));
            }
          },
          options);
    } else if (plan.pool == 2) {
      plan.batch = rsp::new_runspace_job(
          pool, std::move(inputs),
          [p, in_script](int i, rsp::JobContext& ctx) {
            InScript inside(*in_script);
            act(*p, i, ctx);
            return i * ctx.runspace().variable<int>("factor");
          },
          options);
    } else {
      plan.batch = rsp::new_runspace_job(
          pool, std::move(inputs),
          [p, in_script](int i, rsp::JobContext& ctx) {
            InScript inside(*in_script);
            act(*p, i, ctx);
            return value_of(i);
          },
          options);
    }
  }

  // Three streaming receivers: two on the registry, one on pool A, each taking the job its own
  // way (by &&, by value, by &).
  const auto receive_limit = scaled(std::chrono::milliseconds(30'000 * scale));
  std::deque<Receiver> receivers(3);
  receivers[0].what = "registry receiver (&&)";
  receivers[1].what = "registry receiver (by value)";
  receivers[2].what = "pool A receiver (&)";
  for (const Plan& plan : plans) {
    receivers[0].covers.insert(&plan);
    receivers[1].covers.insert(&plan);
    if (plan.pool == 0) receivers[2].covers.insert(&plan);
  }
  auto options_for = [&](Receiver& r) {
    return rsp::ReceiveOptions{.timeout = receive_limit,
                               .on_progress = [&r](const rsp::Progress& p) {
                                 r.last_progress = p;
                                 r.jobs_at_last_progress = r.jobs.size();
                                 ++r.progress_calls;
                               }};
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&, &r = receivers[0]] {
    try {
      r.returned = rsp::receive_runspace_job(
          *registry, options_for(r),
          [&](rsp::ReceivedJob&& job) { r.jobs.push_back(std::move(job)); });
    } catch (...) {
      r.error = std::current_exception();
    }
  });
  threads.emplace_back([&, &r = receivers[1]] {
    try {
      r.returned = rsp::receive_runspace_job(*registry, options_for(r), [&](rsp::ReceivedJob job) {
        r.jobs.push_back(std::move(job));
      });
    } catch (...) {
      r.error = std::current_exception();
    }
  });
  threads.emplace_back([&, &r = receivers[2]] {
    try {
      r.returned = rsp::receive_runspace_job(*pools[0], options_for(r), [&](rsp::ReceivedJob& job) {
        r.jobs.push_back(std::move(job));
      });
    } catch (...) {
      r.error = std::current_exception();
    }
  });
  bool all_waiting = eventually(
      [&] {
        return std::all_of(receivers.begin(), receivers.end(),
                           [](const Receiver& r) { return r.progress_calls.load() > 0; });
      },
      10s);
  inputs_open->count_down();
  EXPECT_TRUE(all_waiting) << "the receivers never reported progress while waiting";
  const auto started = Clock::now();

  // While everything runs: clear one batch's finished jobs in a loop, stop another, and
  // force-clear a third by name (twice).
  Plan& raced_plan = *by_name["B-raced"];
  std::thread clearer([&] {
    while (!raced_plan.batch.done()) {
      raced_plan.cleared += rsp::clear_runspace_jobs(*registry, {.name = "B-raced"});
      std::this_thread::sleep_for(1ms);
    }
  });
  Plan& stop_plan = *by_name["C-stop"];
  Plan& clear_plan = *by_name["B-clear"];
  EXPECT_TRUE(eventually([&] { return stop_plan.coop_running.load() > 0; }, 20s));
  stop_plan.batch.stop();
  EXPECT_TRUE(eventually([&] { return clear_plan.coop_running.load() > 0; }, 20s));
  clear_plan.cleared += rsp::clear_runspace_jobs(*registry, {.name = "B-clear", .force = true});
  std::this_thread::sleep_for(20ms);
  clear_plan.cleared += rsp::clear_runspace_jobs(*registry, {.name = "B-clear", .force = true});
  clearer.join();

  for (std::thread& t : threads) t.join();
  const auto elapsed = Clock::now() - started;
  std::cout << "[ stress ] ran in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
  for (Receiver& r : receivers) {
    if (r.error) {
      try {
        std::rethrow_exception(r.error);
      } catch (const std::exception& e) {
        ADD_FAILURE() << r.what << " threw " << e.what();
      } catch (...) {
        ADD_FAILURE() << r.what << " threw";
      }
    }
  }
  EXPECT_LT(elapsed, receive_limit) << "a receiver gave up waiting";

  // ---- every job received once, as its inputs asked ----
  std::set<rsp::JobId> ids;
  std::size_t received_total = 0;
  int bad_jobs = 0;
  std::map<const Plan*, std::vector<std::pair<rsp::JobId, std::size_t>>> id_and_input;
  for (Receiver& r : receivers) {
    EXPECT_EQ(r.returned, r.jobs.size()) << r.what;
    received_total += r.jobs.size();
    for (const rsp::ReceivedJob& job : r.jobs) {
      EXPECT_TRUE(ids.insert(job.id).second) << "job " << job.id << " received twice";
      auto found = by_name.find(job.name);
      if (found == by_name.end()) {
        ADD_FAILURE() << "job " << job.id << " has unknown name '" << job.name << "'";
        continue;
      }
      Plan& plan = *found->second;
      if (!r.covers.contains(&plan)) {
        ADD_FAILURE() << r.what << " got job " << job.id << " of " << plan.name;
      }
      ++plan.received;
      ++plan.by_state[job.state];
      id_and_input[&plan].emplace_back(job.id, job.input_index);
      std::string problem = check_job(plan, job);
      if (!problem.empty() && ++bad_jobs <= 20) {
        ADD_FAILURE() << plan.name << " job " << job.id << " (inputs " << job.input_index << ".."
                      << job.input_index + job.input_count - 1 << "): " << problem;
      }
    }
  }
  EXPECT_EQ(bad_jobs, 0);
  EXPECT_EQ(registry->size(), 0u) << "jobs left in the registry after every receiver returned";
  EXPECT_LT(ids.empty() ? 0 : *ids.rbegin(), registry->next_id());

  std::size_t created_total = 0, cleared = 0;
  for (Plan& plan : plans) {
    SCOPED_TRACE(plan.name);
    const std::size_t created = plan.batch.created();
    created_total += created;
    EXPECT_TRUE(plan.batch.done());
    const std::size_t slice = plan.batch.slice_size();
    const std::size_t all_jobs = (plan.acts.size() + slice - 1) / slice;
    if (plan.kind == Kind::Stop || plan.kind == Kind::Clear) {
      EXPECT_LE(created, all_jobs);
    } else {
      EXPECT_EQ(created, all_jobs);
    }
    EXPECT_EQ(plan.received + plan.cleared, created)
        << plan.received << " received + " << plan.cleared << " cleared";
    cleared += plan.cleared;
    // Ids increase in the order jobs were created, which is input order within a batch.
    auto& pairs = id_and_input[&plan];
    std::sort(pairs.begin(), pairs.end());
    for (std::size_t i = 1; i < pairs.size(); ++i) {
      EXPECT_LT(pairs[i - 1].second, pairs[i].second)
          << "job " << pairs[i].first << " has an earlier input than job " << pairs[i - 1].first;
    }
    if (plan.kind == Kind::Timeout) {
      std::size_t timeouts =
          static_cast<std::size_t>(std::count_if(plan.acts.begin(), plan.acts.end(), [](Act a) {
            return a == Act::TimeoutSleep || a == Act::CoopLoop || a == Act::IgnoreStop;
          }));
      EXPECT_EQ(plan.by_state[rsp::JobState::TimedOut], timeouts);
    }
    if (plan.kind == Kind::Stop) {
      EXPECT_GE(plan.by_state[rsp::JobState::Stopped], 1u) << "its CoopLoop job ended Stopped";
    }
  }
  for (Plan& plan : plans) {
    std::cout << "[ stress ] " << plan.name << ": " << plan.batch.created() << " created, "
              << plan.received << " received, " << plan.cleared << " cleared";
    for (auto [state, count] : plan.by_state)
      std::cout << ", " << count << ' ' << rsp::to_string(state);
    std::cout << '\n';
  }
  std::cout << "[ stress ] abandoned runspaces " << pools[0]->abandoned_runspaces() << ' '
            << pools[1]->abandoned_runspaces() << ' ' << pools[2]->abandoned_runspaces() << '\n';
  EXPECT_EQ(received_total + cleared, created_total)
      << received_total << " received + " << cleared << " cleared";
  EXPECT_EQ(ids.size(), received_total);

  // ---- each receiver's last progress agrees with what was received ----
  for (Receiver& r : receivers) {
    SCOPED_TRACE(r.what);
    ASSERT_GT(r.progress_calls.load(), 0);
    EXPECT_EQ(r.jobs_at_last_progress, r.jobs.size())
        << "on_progress was not called once more at the end";
    const rsp::Progress& p = r.last_progress;
    std::size_t total = 0, cleared_here = 0;
    std::map<rsp::JobState, std::size_t> states;
    for (const Plan* plan : r.covers) {
      total += plan->batch.created();
      cleared_here += plan->cleared;
      for (auto [state, count] : plan->by_state) states[state] += count;
    }
    EXPECT_EQ(p.total, total);
    EXPECT_TRUE(p.total_known);
    EXPECT_EQ(p.not_started, 0u);
    EXPECT_EQ(p.running, 0u);
    EXPECT_EQ(p.finished(), p.total);
    EXPECT_GE(p.received, r.jobs.size());
    EXPECT_LE(p.received, total - cleared_here);
    // Cleared jobs count in their state too, but were never received.
    EXPECT_GE(p.completed, states[rsp::JobState::Completed]);
    EXPECT_GE(p.failed, states[rsp::JobState::Failed]);
    EXPECT_GE(p.stopped, states[rsp::JobState::Stopped]);
    EXPECT_GE(p.timed_out, states[rsp::JobState::TimedOut]);
    EXPECT_EQ(p.finished(), states[rsp::JobState::Completed] + states[rsp::JobState::Failed] +
                                states[rsp::JobState::Stopped] + states[rsp::JobState::TimedOut] +
                                cleared_here);
  }

  // ---- runspaces abandoned only for the jobs that ignored their stop ----
  for (std::size_t i = 0; i < pools.size(); ++i) {
    std::size_t ignoring = 0;
    for (const Plan& plan : plans) {
      if (plan.pool == static_cast<int>(i))
        ignoring += static_cast<std::size_t>(
            std::count(plan.acts.begin(), plan.acts.end(), Act::IgnoreStop));
    }
    EXPECT_LE(pools[i]->abandoned_runspaces(), ignoring) << "pool " << i;
  }

  // ---- no thread left behind ----
  pools.clear();
  // The registry's two executor threads remain, and abandoned jobs still finishing.
  EXPECT_TRUE(eventually([&] { return count_threads() <= threads_at_start + 2; }, 5s))
      << count_threads() << " threads with the pools gone, " << threads_at_start << " at start";
  EXPECT_TRUE(eventually([&] { return in_script->load() == 0; }, 5s))
      << *in_script << " abandoned jobs still running with the pools gone";
  registry.reset();
  plans.clear();
  receivers.clear();
  EXPECT_TRUE(eventually([&] { return count_threads() <= threads_at_start; }, 5s))
      << count_threads() << " threads with everything gone, " << threads_at_start << " at start";
}
