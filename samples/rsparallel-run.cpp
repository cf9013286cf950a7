// rsparallel-run: Invoke-Parallel for shell commands, like GNU parallel or `xargs -P`.
//
// Shows: a lazily read input range (the lines of stdin), a pool with a per-job timeout, a script
// that watches JobContext::stop_requested() to kill its child process, the streaming form of
// receive_runspace_job (output in input order with --keep-order), the CSV job log and the
// progress bar.
//
// Each line of stdin (read lazily by rsp::lines, CRLF or LF) is one input; the command after `--`
// runs once per input, directly with posix_spawnp (no shell). "{}" in an argument is replaced by
// the input, else the input is appended as the last argument. Each job's stdout is printed as one
// block, never interleaved with another job's; the child's stderr is printed to our stderr the same
// way.
//
//   seq 50 | rsparallel-run -j 8 --keep-order -- sh -c 'sleep 0.0$(( $1 % 5 )); echo $1' sh
//   ls *.log | rsparallel-run --timeout 5s --log jobs.csv -- gzip -9 {}
//
// --timeout takes 200ms, 5s, 1.5s, 2m or 1h; a bare number is seconds (as in GNU parallel). When
// it passes, the job is TimedOut and its command gets SIGTERM, then SIGKILL 500 ms later.
// Exit status: 0 when every job completed, else the number of failed or timed-out jobs (at most
// 101); 2 for a usage error.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include <rsparallel/rsparallel.hpp>

#include "duration.hpp"
#include "run/child.hpp"
#include "run/command.hpp"

namespace po = boost::program_options;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::milliseconds kKillGrace{500};  // SIGTERM, then SIGKILL this much later
constexpr int kUsageError = 2;

struct Settings {
  std::size_t max_running = 1;
  std::chrono::milliseconds timeout{0};
  bool keep_order = false;
  std::filesystem::path log;
  bool progress = false;
  std::size_t slice_size = 1;
  std::vector<std::string> command;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::size_t in_range(long long value, long long low, long long high, const char* option) {
  if (value < low || value > high) {
    throw UsageError("--" + std::string(option) + " must be between " + std::to_string(low) +
                     " and " + std::to_string(high) + ", got " + std::to_string(value));
  }
  return static_cast<std::size_t>(value);
}

/// Settings from the command line; nullopt after printing --help.
std::optional<Settings> parse_command_line(int argc, char** argv) {
  long long cores = std::max(1u, std::thread::hardware_concurrency());
  po::options_description visible(
      "Usage: rsparallel-run [options] -- command [args...]   (inputs: one per line on stdin)\n"
      "Options");
  visible.add_options()                                                              //
      ("help,h", "show this help")                                                   //
      ("max-running,j", po::value<long long>()->default_value(cores),                //
       "commands running at once (default: the machine's cores)")                    //
      ("timeout", po::value<std::string>(),                                          //
       "per job: 200ms, 5s, 1.5s, 2m, 1h; a bare number is seconds")                 //
      ("keep-order,k", po::bool_switch(), "print outputs in input order")            //
      ("log", po::value<std::string>(), "write the CSV job log to this file")        //
      ("progress", po::bool_switch(), "show a progress bar on stderr (a terminal)")  //
      ("slice-size", po::value<long long>()->default_value(1),
       "inputs per job, run one after another (0: automatic)");
  po::options_description all;
  all.add(visible).add_options()("command", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("command", -1);

  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help") != 0) {
    std::cout << visible << '\n';
    return std::nullopt;
  }
  Settings s;
  s.max_running = in_range(vm["max-running"].as<long long>(), 1, 65535, "max-running");
  s.slice_size = in_range(vm["slice-size"].as<long long>(), 0, 1'000'000, "slice-size");
  if (vm.count("timeout") != 0)
    s.timeout = samples::parse_duration(vm["timeout"].as<std::string>());
  s.keep_order = vm["keep-order"].as<bool>();
  s.progress = vm["progress"].as<bool>();
  if (vm.count("log") != 0) s.log = vm["log"].as<std::string>();
  if (vm.count("command") != 0) s.command = vm["command"].as<std::vector<std::string>>();
  if (s.command.empty()) throw UsageError("no command given after --");
  return s;
}

/// A job's script: runs the command once per input of its slice, one after another.
struct RunCommands {
  const std::vector<std::string>* templ;

  void operator()(std::span<const std::string> inputs, rsp::JobContext& ctx) const {
    std::string first_failure;
    std::size_t failures = 0;
    for (const std::string& input : inputs) {
      ctx.check_stop();
      std::vector<std::string> argv = samples::make_command(*templ, input);
      std::string shown = samples::quote_command(argv);
      ctx.write_verbose(shown);  // names the command if the job times out
      samples::ChildResult result = samples::run_child(argv, ctx.stop_token(), kKillGrace);
      ctx.check_stop();  // timed out (or stopped): the job already ended, the child is reaped
      ctx.write_output(samples::CommandOutput{std::move(result.out), std::move(result.err)});
      if (result.status != 0 && failures++ == 0) {
        first_failure = "command " + samples::describe_status(result.status) + ": " + shown;
      }
    }
    if (failures > 1) first_failure += " (and " + std::to_string(failures - 1) + " more)";
    if (failures != 0) throw std::runtime_error(first_failure);
  }
};

/// Prints each received job's output as one block: as jobs finish, or in input order.
class Printer {
 public:
  Printer(bool keep_order, rsp::ProgressBar* bar) : keep_order_(keep_order), bar_(bar) {}

  void receive(rsp::ReceivedJob& job) {
    if (job.state != rsp::JobState::Completed) ++unsuccessful_;
    if (!keep_order_) return print(job);
    pending_.emplace(job.input_index, std::move(job));
    while (!pending_.empty() && pending_.begin()->first == next_index_) {
      rsp::ReceivedJob& next = pending_.begin()->second;
      next_index_ += next.input_count;
      print(next);
      pending_.erase(pending_.begin());
    }
  }

  void finish() {  // left when a batch ended early (an input that could not be read)
    for (auto& [index, job] : pending_) print(job);
    pending_.clear();
  }

  std::size_t unsuccessful() const { return unsuccessful_; }

 private:
  void print(const rsp::ReceivedJob& job) {
    if (bar_ != nullptr) bar_->finish();
    for (const std::any& value : job.output) {
      if (const auto* block = std::any_cast<samples::CommandOutput>(&value)) {
        std::fwrite(block->out.data(), 1, block->out.size(), stdout);
        std::fwrite(block->err.data(), 1, block->err.size(), stderr);
      }
    }
    std::fflush(stdout);
    if (job.state != rsp::JobState::Completed) {
      std::string what = job.errors.empty() ? "" : job.errors.back().message;
      if (job.state == rsp::JobState::TimedOut && !job.verbose.empty()) {
        what += ": " + job.verbose.back();
      }
      std::fprintf(stderr, "rsparallel-run: job %llu %s: %s\n",
                   static_cast<unsigned long long>(job.id),
                   std::string(rsp::to_string(job.state)).c_str(), what.c_str());
    }
  }

  bool keep_order_;
  rsp::ProgressBar* bar_;
  std::map<std::size_t, rsp::ReceivedJob> pending_;
  std::size_t next_index_ = 0;
  std::size_t unsuccessful_ = 0;
};

int run(const Settings& s) {
  if (!s.log.empty() && !std::ofstream(s.log, std::ios::trunc)) {  // this run's jobs only
    throw std::runtime_error("cannot write the log '" + s.log.string() + "'");
  }
  samples::forward_termination_signals();
  auto pool = rsp::new_runspace_pool(
      {.min_runspaces = 1, .max_runspaces = s.max_running, .stop_grace = kKillGrace + 1500ms});
  rsp::new_runspace_job(*pool, rsp::lines(std::cin), RunCommands{&s.command},
                        {.name = "run",
                         .timeout = s.timeout,
                         .slice_size = s.slice_size,
                         .max_running = s.max_running});
  std::unique_ptr<rsp::ProgressBar> bar = s.progress ? rsp::ProgressBar::for_stderr() : nullptr;
  Printer printer(s.keep_order, bar.get());
  rsp::ReceiveOptions receive{.log_file = s.log};  // no time limit: every job is received
  if (bar) receive.on_progress = [&](const rsp::Progress& p) { bar->update(p); };
  rsp::receive_runspace_job(*pool, receive, [&](rsp::ReceivedJob& job) { printer.receive(job); });
  printer.finish();
  if (bar) bar->finish();
  return static_cast<int>(std::min<std::size_t>(printer.unsuccessful(), 101));
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Settings> settings;
  try {
    settings = parse_command_line(argc, argv);
    if (!settings) return 0;
  } catch (const std::exception& e) {  // po::error, UsageError, std::invalid_argument
    std::fprintf(stderr, "rsparallel-run: %s\nTry 'rsparallel-run --help'.\n", e.what());
    return kUsageError;
  }
  try {
    return run(*settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rsparallel-run: %s\n", e.what());
    return 1;
  }
}
