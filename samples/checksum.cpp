// checksum: checksums every regular file under a directory, one job per file.
//
// Shows: a lazy input range that is never held in memory (a recursive_directory_iterator,
// filtered to regular files, read by the pool only as places under max_queue free), a per-job
// timeout honoured with JobContext::check_stop(), the streaming form of receive_runspace_job (so
// memory stays flat over 100,000s of files), the progress bar, the CSV job log, and failures
// (an unreadable file) that become Failed jobs instead of crashing the program.
//
//   ./checksum                      # all of /usr, as many jobs at once as cores
//   ./checksum ~/src -j 8 --timeout 2s --log walk.csv
//   ./checksum /usr --limit 1000 --print --log ''   # hashes on stdout, no log
//
// The hash is FNV-1a 64, not cryptographic. Ends with a summary: jobs completed, failed and
// timed out, files per second, median and 99th percentile job duration and peak memory.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <ranges>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include <rsparallel/rsparallel.hpp>

#include "duration.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace std::chrono_literals;

namespace {

/// FNV-1a, 64 bits: fast, simple, good enough to tell files apart (not against an adversary).
std::uint64_t fnv1a64(std::span<const unsigned char> bytes, std::uint64_t hash) {
  for (unsigned char b : bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return hash;
}
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

struct FileSum {
  std::string path;
  std::uint64_t hash = kFnvOffset;
  std::uintmax_t bytes = 0;
};

/// The job's script: reads the file in 64 KiB chunks, checking for a stop (the timeout) between.
FileSum checksum_file(const fs::directory_entry& entry, rsp::JobContext& ctx) {
  FileSum sum{entry.path().string()};
  ctx.write_verbose(sum.path);  // kept if the job times out, to name the file
  auto fail = [&](const char* what) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + sum.path);
  };
  // O_NONBLOCK: should the file have become a FIFO since the walk saw it, do not hang in open.
  int fd = ::open(sum.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("cannot open");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail("cannot stat");
  if (!S_ISREG(info.st_mode)) {
    errno = EINVAL;
    fail("no longer a regular file:");
  }
  thread_local std::array<unsigned char, 64 * 1024> buffer;
  for (;;) {
    ctx.check_stop();  // throws rsp::JobStopped once the timeout passed: the job is TimedOut
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read");
    if (n == 0) return sum;
    sum.hash = fnv1a64(std::span(buffer.data(), static_cast<std::size_t>(n)), sum.hash);
    sum.bytes += static_cast<std::uintmax_t>(n);
  }
}

struct Settings {
  fs::path root = "/usr";
  std::size_t max_running = 1;
  std::chrono::milliseconds timeout{5s};
  fs::path log = "checksum-log.csv";
  std::ptrdiff_t limit = std::numeric_limits<std::ptrdiff_t>::max();
  bool quiet = false;
  bool print = false;
};

std::optional<Settings> parse_command_line(int argc, char** argv) {
  Settings s;
  long long cores = std::max(1u, std::thread::hardware_concurrency());
  po::options_description visible("Usage: checksum [options] [directory (default /usr)]\nOptions");
  visible.add_options()                                                                      //
      ("help,h", "show this help")                                                           //
      ("max-running,j", po::value<long long>()->default_value(cores), "files at once")       //
      ("timeout", po::value<std::string>()->default_value("5s"), "per file: 200ms, 5s, 2m")  //
      ("log", po::value<std::string>()->default_value(s.log.string()),
       "CSV job log, rewritten each run ('' for none)")                           //
      ("limit", po::value<long long>(), "stop after this many files")             //
      ("quiet,q", po::bool_switch(&s.quiet), "no progress bar, no failure list")  //
      ("print", po::bool_switch(&s.print), "print 'hash  path' for every file");
  po::options_description all;
  all.add(visible).add_options()("root", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("root", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help") != 0) {
    std::cout << visible << '\n';
    return std::nullopt;
  }
  long long j = vm["max-running"].as<long long>();
  if (j < 1 || j > 65535) throw std::invalid_argument("--max-running must be 1..65535");
  s.max_running = static_cast<std::size_t>(j);
  s.timeout = samples::parse_duration(vm["timeout"].as<std::string>());
  s.log = vm["log"].as<std::string>();
  if (vm.count("limit") != 0) {
    if (vm["limit"].as<long long>() < 0) throw std::invalid_argument("--limit must be >= 0");
    s.limit = static_cast<std::ptrdiff_t>(vm["limit"].as<long long>());
  }
  if (vm.count("root") != 0) s.root = vm["root"].as<std::string>();
  return s;
}

/// Nearest-rank percentile, in milliseconds.
double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size()) + 0.999999);
  auto nth = values.begin() +
             static_cast<std::ptrdiff_t>(std::clamp<std::size_t>(rank, 1, values.size()) - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

int run(const Settings& s) {
  if (!s.log.empty() && !std::ofstream(s.log, std::ios::trunc)) {  // the log holds this run only
    throw std::runtime_error("cannot write the log '" + s.log.string() + "'");
  }
  auto pool = rsp::new_runspace_pool({.max_runspaces = s.max_running});

  // The input range: lazily walked, filtered to regular files (symlinks to them included), cut
  // at --limit. An error while walking ends the walk with one Failed job that tells why.
  auto is_file = [](const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_regular_file(ec);
  };
  auto files =
      fs::recursive_directory_iterator(s.root, fs::directory_options::skip_permission_denied) |
      std::views::filter(is_file) | std::views::take(s.limit);
  auto start = std::chrono::steady_clock::now();
  rsp::new_runspace_job(*pool, std::move(files), checksum_file,
                        {.name = "checksum", .timeout = s.timeout, .max_running = s.max_running});

  std::unique_ptr<rsp::ProgressBar> bar = s.quiet ? nullptr : rsp::ProgressBar::for_stderr();
  std::size_t completed = 0, failed = 0, timed_out = 0;
  std::uintmax_t bytes = 0;
  std::vector<double> durations_ms;  // 8 bytes a file: the only thing kept per job
  std::vector<std::string> failures;
  rsp::ReceiveOptions receive{.timeout = 0ms, .log_file = s.log};
  if (bar) receive.on_progress = [&](const rsp::Progress& p) { bar->update(p); };
  rsp::receive_runspace_job(*pool, receive, [&](rsp::ReceivedJob&& job) {
    durations_ms.push_back(std::chrono::duration<double, std::milli>(job.duration).count());
    if (job.state == rsp::JobState::Completed) {
      ++completed;
      const FileSum& sum = std::any_cast<const FileSum&>(job.output.front());
      bytes += sum.bytes;
      if (s.print)
        std::printf("%016llx  %s\n", static_cast<unsigned long long>(sum.hash), sum.path.c_str());
      return;
    }
    (job.state == rsp::JobState::TimedOut ? timed_out : failed) += 1;
    if (failures.size() < 5) {
      std::string what = job.errors.empty() ? "" : job.errors.back().message;
      if (job.state == rsp::JobState::TimedOut && !job.verbose.empty())
        what += ": " + job.verbose.front();
      failures.push_back("job " + std::to_string(job.id) + " " +
                         std::string(rsp::to_string(job.state)) + ": " + what);
    }
  });
  if (bar) bar->finish();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  std::size_t jobs = completed + failed + timed_out;
  std::printf("checksum of %s\n", s.root.c_str());
  std::printf("  %-16s %12zu\n", "jobs", jobs);
  std::printf("  %-16s %12zu\n", "completed", completed);
  std::printf("  %-16s %12zu\n", "failed", failed);
  std::printf("  %-16s %12zu\n", "timed out", timed_out);
  std::printf("  %-16s %12.1f MiB\n", "read", static_cast<double>(bytes) / (1 << 20));
  std::printf("  %-16s %12.2f s\n", "elapsed", seconds);
  std::printf("  %-16s %12.0f\n", "files/s",
              seconds > 0 ? static_cast<double>(jobs) / seconds : 0.0);
  std::printf("  %-16s %12.3f ms\n", "p50 job", percentile(durations_ms, 50));
  std::printf("  %-16s %12.3f ms\n", "p99 job", percentile(durations_ms, 99));
  std::printf("  %-16s %12.1f MiB\n", "peak memory", static_cast<double>(usage.ru_maxrss) / 1024);
  if (!s.log.empty()) std::printf("  %-16s %s\n", "log", s.log.c_str());
  if (!s.quiet && !failures.empty()) {
    std::printf("first failures:\n");
    for (const std::string& line : failures) std::printf("  %s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Settings> settings;
  try {
    settings = parse_command_line(argc, argv);
    if (!settings) return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checksum: %s\nTry 'checksum --help'.\n", e.what());
    return 2;
  }
  try {
    return run(*settings);
  } catch (const std::exception& e) {  // the directory cannot be opened, the log cannot be written
    std::fprintf(stderr, "checksum: %s\n", e.what());
    return 1;
  }
}
