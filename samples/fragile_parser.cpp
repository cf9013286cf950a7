// fragile_parser: parses untrusted files with a parser that has bugs, one job per file.
//
// Shows: process isolation (PoolOptions::isolation = rsp::Isolation::Process). The parser is a
// registered script (rsp::register_script), so a worker process, which is this program started
// again (rsp::run_as_worker, the first line of main), can find it and run it.
//
// The input format is one record per line, fields separated by commas. The parser returns how
// many fields each record has, but three lines set off its bugs:
//   !segv   it follows a null pointer: SIGSEGV
//   !abort  an internal check fails: abort(), SIGABRT
//   !hang   it loops forever, never checking its stop
//
// With --isolation process (the default) each bad file costs only its own job: a crash kills the
// worker process, and its job is Failed with an rsp::RunspaceCrashed naming the signal; a hang
// is TimedOut after --timeout, and its worker is killed once stop_grace passes. The pool starts a
// new worker in either case, and the run goes on to its summary.
// With --isolation thread the parser runs on threads of this process: the first crash takes the
// whole program down, before it prints its summary. A hang is TimedOut there too, but a thread
// cannot be killed: it keeps spinning until the program ends.
//
//   ./fragile-parser --dir /tmp/demo --make-demo   # 20 files: 2 crash the parser, 1 hangs it
//   ./fragile-parser --dir /tmp/demo --timeout 500
//   ./fragile-parser --dir /tmp/demo --isolation thread   # killed by SIGSEGV or SIGABRT
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include <rsparallel/rsparallel.hpp>
#include <rsparallel/script.hpp>
#include <rsparallel/worker.hpp>

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace std::chrono_literals;

namespace {

// At namespace scope: registered in this process and in each of its worker processes alike.
// Returns the number of fields of each record; a file that cannot be read is an exception, so
// an ordinary Failed job.
const auto parse = rsp::register_script("fragile_parser.parse", [](const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<long long> fields;
  for (std::string line; std::getline(in, line);) {
    if (line == "!segv") {
      // Stands for reading through a null pointer, which the compiler need not keep as written.
      // The default action first, so that a sanitizer's handler does not make it an exit instead.
      std::signal(SIGSEGV, SIG_DFL);
      std::raise(SIGSEGV);
    }
    if (line == "!abort") std::abort();
    if (line == "!hang") {
      for (;;) std::this_thread::sleep_for(1ms);  // no JobContext::check_stop(): deaf to a stop
    }
    if (!line.empty()) fields.push_back(std::ranges::count(line, ',') + 1);
  }
  return fields;
});

// Writes 20 files of records into `dir`: input-05 and input-14 crash the parser, input-09 hangs.
void make_demo(const fs::path& dir) {
  fs::create_directories(dir);
  for (int i = 1; i <= 20; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "input-%02d.txt", i);
    std::ofstream out(dir / name);
    for (int record = 0; record < i; ++record) {
      out << "id" << record;
      for (int field = 0; field < record % 4; ++field) out << ",value" << field;
      out << '\n';
      if (record == 2 && i == 5) out << "!segv\n";
      if (record == 2 && i == 9) out << "!hang\n";
      if (record == 2 && i == 14) out << "!abort\n";
    }
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
  }
  std::printf("wrote 20 files to %s: input-05 and input-14 crash the parser, input-09 hangs it\n",
              dir.c_str());
}

std::string counted(long long n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

struct Settings {
  fs::path dir;
  rsp::Isolation isolation = rsp::Isolation::Process;
  std::chrono::milliseconds timeout{2000};
  bool make_demo = false;
};

std::optional<Settings> parse_command_line(int argc, char** argv) {
  Settings s;
  std::string isolation;
  long long timeout = 0;
  po::options_description options("Usage: fragile-parser --dir DIR [options]\nOptions");
  options.add_options()                                                                    //
      ("help,h", "show this help")                                                         //
      ("dir", po::value<std::string>()->required(), "parse every regular file in DIR")     //
      ("isolation", po::value(&isolation)->default_value("process"), "thread or process")  //
      ("timeout", po::value(&timeout)->default_value(2000), "per file, in milliseconds")   //
      ("make-demo", po::bool_switch(&s.make_demo), "write demo files into DIR and exit");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help") != 0) {
    std::cout << options << '\n';
    return std::nullopt;
  }
  po::notify(vm);
  s.dir = vm["dir"].as<std::string>();
  if (isolation == "thread") {
    s.isolation = rsp::Isolation::Thread;
  } else if (isolation != "process") {
    throw std::invalid_argument("--isolation must be thread or process, not '" + isolation + "'");
  }
  if (timeout < 1) throw std::invalid_argument("--timeout must be at least 1 ms");
  s.timeout = std::chrono::milliseconds(timeout);
  return s;
}

int run(const Settings& s) {
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(s.dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::ranges::sort(files);

  auto pool = rsp::new_runspace_pool({.max_runspaces = 4, .isolation = s.isolation});
  rsp::new_runspace_job(*pool, files, parse, {.name = "parse", .timeout = s.timeout});

  std::size_t parsed = 0, failed = 0, timed_out = 0;
  rsp::receive_runspace_job(*pool, {}, [&](rsp::ReceivedJob&& job) {
    std::string name = fs::path(files[job.input_index]).filename().string();
    std::string result;
    if (job.state == rsp::JobState::Completed) {
      ++parsed;
      auto fields = job.output_as<std::vector<long long>>().front();
      result = counted(static_cast<long long>(fields.size()), "record") + ", " +
               counted(std::reduce(fields.begin(), fields.end()), "field");
    } else {
      (job.state == rsp::JobState::TimedOut ? timed_out : failed) += 1;
      if (!job.errors.empty()) result = job.errors.back().message;
    }
    std::printf("%-14s %-10s %s\n", name.c_str(), std::string(rsp::to_string(job.state)).c_str(),
                result.c_str());
    std::fflush(stdout);  // on threads a crash may come next: keep what was printed before it
  });
  std::printf("parsed %zu, failed %zu, timed out %zu\n", parsed, failed, timed_out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto code = rsp::run_as_worker(argc, argv)) return *code;  // a worker process ends here
  std::optional<Settings> settings;
  try {
    settings = parse_command_line(argc, argv);
    if (!settings) return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fragile-parser: %s\nTry 'fragile-parser --help'.\n", e.what());
    return 2;
  }
  try {
    if (settings->make_demo) {
      make_demo(settings->dir);
      return 0;
    }
    return run(*settings);
  } catch (const std::exception& e) {  // the directory cannot be read, a demo file written
    std::fprintf(stderr, "fragile-parser: %s\n", e.what());
    return 1;
  }
}
