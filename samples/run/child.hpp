// samples/run/child.hpp: runs one command with posix_spawnp (no shell) and captures its output.
#pragma once

#include <chrono>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

namespace samples {

struct ChildResult {
  std::string out;  // everything the command wrote to stdout
  std::string err;  // and to stderr
  int status = 0;   // as waitpid reports it
};

/// Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null, stdout and stderr captured
/// through pipes read with poll(2), so neither pipe can fill up and block the child. The child
/// leads its own process group. Once `stop` is requested the group gets SIGTERM, and SIGKILL
/// `grace` later; the child is always reaped before this returns or throws. Throws
/// std::system_error when the command cannot be started (not found, not executable).
ChildResult run_child(std::span<const std::string> argv, std::stop_token stop,
                      std::chrono::milliseconds grace);

/// "exited with status 3", "killed by signal 15 (Terminated)".
std::string describe_status(int status);

/// argv as a shell would show it: `sh -c 'echo $1' sh 7`.
std::string quote_command(std::span<const std::string> argv);

/// Makes SIGINT, SIGTERM and SIGHUP also reach the process groups of running children (which a
/// terminal's Ctrl-C no longer reaches), then end this process as they would have.
void forward_termination_signals();

}  // namespace samples
