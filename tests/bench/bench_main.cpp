// rsparallel benchmarks: main. Runs the Google Benchmark cases (each beside its baseline), then
// prints a summary of the ratios with PASS/FAIL per target.
//
// Own flags (the rest go to Google Benchmark):
//   --inputs=N   inputs of the million-job cases (default 1,000,000); the smoke test uses a few
//   --reps=R     repetitions of every case, medians reported (default 5). The repetitions of
//                all cases run in a random interleaving (unless
//                --benchmark_enable_random_interleaving=false), so a case and its baseline
//                see the same drift in machine speed rather than one getting a slow minute.
//   --strict     exit 1 when a target is missed (a wrong result always exits 1)
//   --rss-child=MODE   internal: one peak-RSS workload in this process, for case 7
#include <unistd.h>

#include <rsparallel/worker.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.hpp"
#include "workloads.hpp"

namespace rsbench {

Config& config() {
  static Config instance;
  return instance;
}

int& failures() {
  static int count = 0;  // benchmarks run one at a time, on the main thread
  return count;
}

namespace {

/// Keeps the median (or the only run) of every benchmark, and passes everything on to the
/// reporter that prints.
class Recorder : public benchmark::BenchmarkReporter {
 public:
  struct Result {
    double real_ms = 0;
    std::map<std::string, double> counters;
  };

  explicit Recorder(std::unique_ptr<benchmark::BenchmarkReporter> inner)
      : inner_(std::move(inner)) {}

  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) {
        ++errors_;
        continue;
      }
      std::string key = run.run_name.function_name;
      if (!run.run_name.args.empty()) key += "/" + run.run_name.args;
      bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      bool single = run.run_type == Run::RT_Iteration;
      if (!median && !(single && !medians_.contains(key))) continue;
      Result result;
      result.real_ms = run.GetAdjustedRealTime();
      for (const auto& [name, counter] : run.counters) result.counters[name] = counter.value;
      results_[key] = std::move(result);
      if (median) medians_.insert(key);
    }
    inner_->ReportRuns(runs);
  }

  void Finalize() override { inner_->Finalize(); }

  std::optional<double> counter(const std::string& key, const std::string& name) const {
    auto found = results_.find(key);
    if (found == results_.end()) return std::nullopt;
    auto value = found->second.counters.find(name);
    if (value == found->second.counters.end()) return std::nullopt;
    return value->second;
  }

  int errors() const { return errors_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, Result> results_;
  std::set<std::string> medians_;
  int errors_ = 0;
};

using Value = std::optional<double>;

std::string show(Value value, const char* unit, int precision = 1) {
  if (!value) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << *value << unit;
  return out.str();
}

Value divide(Value a, Value b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

struct Row {
  std::string id;
  std::string what;
  std::string measured;
  std::string baseline;
  Value ratio;
  std::string target;  // empty: for information
  std::function<bool(double)> meets;
  Value checked;                          // the value the target applies to
  Value baseline_checked = std::nullopt;  // the same figure for the baseline, when comparable
};

/// Prints the summary table; returns how many targets were missed.
int print_summary(const Recorder& r, std::ostream& out) {
  auto c = [&r](const std::string& key, const std::string& name) { return r.counter(key, name); };
  Value rsp = c("TrivialJobs/Rsparallel", "ns_per_job");
  Value asio = c("TrivialJobs/AsioPackagedTask", "ns_per_job");
  Value rsp_timeout = c("TrivialJobs/RsparallelTimeout", "ns_per_job");
  Value tbb = c("TrivialJobs/TbbTaskGroup", "ns_per_job");
  Value async = c("TrivialJobs/StdAsyncBatched", "ns_per_job");
  Value eager = c("TrivialJobs/EagerRecords", "ns_per_job");
  Value slices = c("SlicedItems/RsparallelAutoSlices", "ns_per_item");
  Value bare = c("SlicedItems/AsioBarePost", "ns_per_item");
  Value cpu1 = c("CpuBound/Rsparallel/1", "ms_total");
  Value cpu2 = c("CpuBound/Rsparallel/2", "ms_total");
  Value asio_cpu1 = c("CpuBound/AsioThreadPool/1", "ms_total");
  Value asio_cpu2 = c("CpuBound/AsioThreadPool/2", "ms_total");
  auto lateness = [&](const std::string& key) {
    return show(c(key, "p50_ms"), "", 2) + " / " + show(c(key, "p99_ms"), "", 2) + " / " +
           show(c(key, "max_ms"), "", 2);
  };
  Value late_p99 = c("TimeoutLateness/Rsparallel", "p99_ms");
  Value rss = c("PeakRss/Rsparallel", "peak_MiB");
  Value rss_eager = c("PeakRss/EagerRecords", "peak_MiB");
  Value rss_asio = c("PeakRss/AsioPackagedTask", "peak_MiB");
  Value rss_empty = c("PeakRss/EmptyProcess", "peak_MiB");
  Value map = c("TypedResults/ParallelMap", "ns_per_input");
  Value rss_map = c("PeakRss/ParallelMap", "peak_MiB");
  Value process_job = c("ProcessJobs/Process", "ns_per_input");
  Value process_thread = c("ProcessJobs/Thread", "ns_per_input");
  Value process_slices = c("ProcessJobs/ProcessSlices", "ns_per_input");
  Value fresh_worker = c("ProcessJobs/TimeoutToFreshWorker", "p50_ms");
  Value fresh_worker_max = c("ProcessJobs/TimeoutToFreshWorker", "max_ms");
  Value respawn = c("ProcessJobs/TimeoutToFreshWorker", "respawn_p50_ms");
  // parallel_map's peak RSS growth beyond the floor, less its own result vector.
  const double result_mib =
      static_cast<double>(parallel_map_result_bytes(config().inputs)) / (1024.0 * 1024.0);
  Value map_growth = rss_map && rss_empty ? Value(*rss_map - *rss_empty - result_mib) : Value();
  auto at_most = [](double limit) { return [limit](double v) { return v <= limit; }; };
  auto at_least = [](double limit) { return [limit](double v) { return v >= limit; }; };

  Value speedup = divide(cpu1, cpu2);
  std::vector<Row> rows = {
      {"1", "trivial jobs, ns/job: stream receive vs asio post(packaged_task)+future",
       show(rsp, " ns"), show(asio, " ns"), divide(rsp, asio), "<= 1.00x", at_most(1.0),
       divide(rsp, asio)},
      {"2", "60 s timeout on every job, ns/job: vs the same without timeout",
       show(rsp_timeout, " ns"), show(rsp, " ns"), divide(rsp_timeout, rsp), "<= 1.20x",
       at_most(1.2), divide(rsp_timeout, rsp)},
      {"2",
       "60 s timeout on every job, ns/job: vs case 1's asio baseline",
       show(rsp_timeout, " ns"),
       show(asio, " ns"),
       divide(rsp_timeout, asio),
       "",
       {},
       {}},
      {"3", "auto slices (slice_size 0), ns/item: vs a bare asio post per item",
       show(slices, " ns", 2), show(bare, " ns", 2), divide(slices, bare), "<= 0.50x", at_most(0.5),
       divide(slices, bare)},
      {"4",
       "trivial jobs, ns/job: vs oneTBB task_group (arena of 2)",
       show(rsp, " ns"),
       show(tbb, " ns"),
       divide(rsp, tbb),
       "",
       {},
       {}},
      {"4",
       "trivial jobs, ns/job: vs std::async, 1000 in flight",
       show(rsp, " ns"),
       show(async, " ns"),
       divide(rsp, async),
       "",
       {},
       {}},
      {"4",
       "trivial jobs, ns/job: vs eager (every job record made up front)",
       show(rsp, " ns"),
       show(eager, " ns"),
       divide(rsp, eager),
       "",
       {},
       {}},
      {"5", "CPU-bound 40 x 10 ms, speedup 1 -> 2 runspaces (baseline: asio 1 -> 2 threads)",
       show(speedup, "x", 2), show(divide(asio_cpu1, asio_cpu2), "x", 2), speedup, ">= 1.90x",
       at_least(1.9), speedup, divide(asio_cpu1, asio_cpu2)},
      {"5",
       "CPU-bound 40 x 10 ms, ms on 2 runspaces vs asio thread_pool(2)",
       show(cpu2, " ms"),
       show(asio_cpu2, " ms"),
       divide(cpu2, asio_cpu2),
       "",
       {},
       {}},
      {"5",
       "CPU-bound, cores the process got: 2 runspaces vs asio thread_pool(2)",
       show(c("CpuBound/Rsparallel/2", "cores_used"), "", 2),
       show(c("CpuBound/AsioThreadPool/2", "cores_used"), "", 2),
       std::nullopt,
       "",
       {},
       {}},
      {"6", "timeout lateness p50 / p99 / max ms (baseline: a plain 20 ms sleep)",
       lateness("TimeoutLateness/Rsparallel"), lateness("TimeoutLateness/PlainSleep"), std::nullopt,
       "p99 <= 5 ms", at_most(5.0), late_p99, c("TimeoutLateness/PlainSleep", "p99_ms")},
      {"7",
       "peak RSS, own process, " + std::to_string(config().inputs) +
           " inputs: streamed vs eager records",
       show(rss, " MiB"), show(rss_eager, " MiB"), divide(rss, rss_eager), "<= 64 MiB",
       at_most(64.0), rss},
      {"7",
       "peak RSS: streamed vs asio futures (case 1 baseline)",
       show(rss, " MiB"),
       show(rss_asio, " MiB"),
       divide(rss, rss_asio),
       "",
       {},
       {}},
      {"8", "parallel_map, default options, ns/input: vs asio post(packaged_task)+future",
       show(map, " ns", 2), show(asio, " ns"), divide(map, asio), "<= 0.10x", at_most(0.1),
       divide(map, asio)},
      {"8", "parallel_map, default options, ns/input: vs oneTBB task_group into a vector",
       show(map, " ns", 2), show(tbb, " ns"), divide(map, tbb), "<= 1.00x", at_most(1.0),
       divide(map, tbb)},
      {"8",
       "parallel_map peak RSS growth beyond the floor and its " + show(result_mib, " MiB") +
           " result vector",
       show(map_growth, " MiB"), show(rss_map, " MiB"), std::nullopt, "<= 16 MiB", at_most(16.0),
       map_growth},
      {"9", "process pool of 2, ns/job: vs the same registered script on 2 threads",
       show(process_job, " ns"), show(process_thread, " ns"), divide(process_job, process_thread),
       "<= 10000 ns", at_most(10000.0), process_job},
      {"9", "process pool of 2, automatic slices, ns/input: vs one job per input on threads",
       show(process_slices, " ns", 2), show(process_thread, " ns"),
       divide(process_slices, process_thread), "<= 1000 ns", at_most(1000.0), process_slices},
      {"9",
       "deadline of a job ignoring its stop to the next job on a fresh worker, ms p50 / max "
       "(stop_grace 100 ms; less the grace: " +
           show(respawn, " ms", 1) + ")",
       show(fresh_worker, " ms", 1) + " / " + show(fresh_worker_max, " ms", 1),
       "",
       std::nullopt,
       "",
       {},
       {}},
      {"7",
       "peak RSS: streamed vs an empty process (the floor)",
       show(rss, " MiB"),
       show(rss_empty, " MiB"),
       divide(rss, rss_empty),
       "",
       {},
       {}},
  };

  int missed = 0;
  bool machine_bound = false;
  out << "\nSummary (medians; ratio = rsparallel / baseline, lower is better except speedup)\n";
  out << std::left << std::setw(2) << "#" << ' ' << std::setw(78) << "case" << ' ' << std::right
      << std::setw(21) << "rsparallel" << ' ' << std::setw(21) << "baseline" << ' ' << std::setw(7)
      << "ratio" << ' ' << std::left << std::setw(14) << "  target"
      << "verdict\n";
  for (const Row& row : rows) {
    std::string verdict = "info";
    if (row.meets) {
      if (!row.checked) {
        verdict = "n/a";
      } else if (row.meets(*row.checked)) {
        verdict = "PASS";
      } else {
        verdict = "FAIL";
        ++missed;
        if (row.baseline_checked && !row.meets(*row.baseline_checked)) {
          verdict = "FAIL*";
          machine_bound = true;
        }
      }
    }
    out << std::left << std::setw(2) << row.id << ' ' << std::setw(78) << row.what << ' '
        << std::right << std::setw(21) << row.measured << ' ' << std::setw(21) << row.baseline
        << ' ' << std::setw(7) << show(row.ratio, "x", 2) << ' ' << std::left << std::setw(14)
        << ("  " + row.target) << verdict << '\n';
  }
  if (machine_bound) {
    out << "* the baseline misses this target too, so the machine set the figure: other "
           "processes were running\n  (with autogroup scheduling a busy session elsewhere "
           "caps this one at about one core, and\n  delays its wake-ups). Rerun on an idle "
           "machine.\n";
  }
  if (failures() != 0) out << failures() << " benchmark run(s) got a wrong result (see above)\n";
  return missed;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::size_t parse_count(std::string_view text, const char* flag) {
  char* end = nullptr;
  std::string copy(text);
  unsigned long long value = std::strtoull(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || value == 0) {
    std::cerr << flag << " wants a positive number, got '" << copy << "'\n";
    std::exit(2);
  }
  return static_cast<std::size_t>(value);
}

}  // namespace
}  // namespace rsbench

int main(int argc, char** argv) {
  // Case 9's worker processes are this program again: they serve jobs and end here.
  if (auto code = rsp::run_as_worker(argc, argv)) return *code;
  using namespace rsbench;
  Config& c = config();
  std::optional<std::string> rss_child;
  std::size_t reps = 5;
  bool strict = false;
  bool reps_given = false;
  bool aggregates_given = false;
  bool interleaving_given = false;
  std::string format = "console";
  std::vector<std::string> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (starts_with(arg, "--inputs=")) {
      c.inputs = parse_count(arg.substr(9), "--inputs");
    } else if (starts_with(arg, "--reps=")) {
      reps = parse_count(arg.substr(7), "--reps");
    } else if (arg == "--strict") {
      strict = true;
    } else if (starts_with(arg, "--rss-child=")) {
      rss_child = std::string(arg.substr(12));
    } else {
      if (starts_with(arg, "--benchmark_repetitions")) reps_given = true;
      if (starts_with(arg, "--benchmark_report_aggregates_only") ||
          starts_with(arg, "--benchmark_display_aggregates_only")) {
        aggregates_given = true;
      }
      if (starts_with(arg, "--benchmark_format=")) format = std::string(arg.substr(19));
      if (starts_with(arg, "--benchmark_enable_random_interleaving")) interleaving_given = true;
      args.emplace_back(arg);
    }
  }
  c.async_inputs = std::max<std::size_t>(1, c.inputs / 10);
  c.lateness_jobs = std::min<std::size_t>(c.lateness_jobs, c.inputs);
  if (rss_child) return rss_child_main(*rss_child, c.inputs);

  if (!reps_given) args.push_back("--benchmark_repetitions=" + std::to_string(reps));
  if (!interleaving_given) args.emplace_back("--benchmark_enable_random_interleaving=true");
  if (!aggregates_given && (reps_given || reps > 1)) {
    args.emplace_back("--benchmark_report_aggregates_only=true");
  }
  std::vector<char*> pointers;
  for (std::string& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, pointers.data());
  if (benchmark::ReportUnrecognizedArguments(count, pointers.data())) return 2;

  std::unique_ptr<benchmark::BenchmarkReporter> inner;
  if (format == "json") {
    inner = std::make_unique<benchmark::JSONReporter>();
  } else if (format == "console") {
    inner = std::make_unique<benchmark::ConsoleReporter>(
        isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                              : benchmark::ConsoleReporter::OO_Tabular);
  } else {
    std::cerr << "--benchmark_format: console or json\n";
    return 2;
  }
  std::ostream& notes = format == "json" ? std::cerr : std::cout;  // keep JSON parseable
  notes << "rsparallel benchmarks: " << c.inputs << " inputs, " << reps
        << " repetition(s), medians reported\n";
  Recorder recorder(std::move(inner));
  start_rss_launcher();
  std::size_t ran = benchmark::RunSpecifiedBenchmarks(&recorder);
  stop_rss_launcher();
  benchmark::Shutdown();
  if (ran == 0) return 2;  // a --benchmark_filter that matches nothing is a mistake
  // With JSON on stdout, the summary goes to stderr so the JSON stays parseable.
  int missed = print_summary(recorder, notes);
  if (failures() != 0 || recorder.errors() != 0) return 1;
  return strict && missed != 0 ? 1 : 0;
}
