// rsparallel: the entry point of worker processes. A process pool starts the program's own
// executable again with a flag; the first line of main hands such a process to the library,
// which serves jobs until the pool lets it go, and returns its exit code.
//
// @code
//   int main(int argc, char** argv) {
//     if (auto code = rsp::run_as_worker(argc, argv)) return *code;  // a worker ends here
//     auto pool = rsp::new_runspace_pool({.max_runspaces = 4});
//     // ...
//   }
// @endcode
#pragma once

#include <optional>

namespace rsp {

/// nullopt when argv holds no worker flag: the program goes on as itself. Otherwise this process
/// is a worker: it closes every descriptor it inherited but stdin, stdout, stderr and its
/// channel, asks to be killed when its parent ends, runs the jobs its pool sends (registered
/// scripts, rsp::register_script) until the pool closes the channel or ends, and returns the
/// exit code for main to return: 0 after a clean end, 1 when the parent was already gone, 2 for
/// a broken channel or protocol. Call it first in main, before anything reads stdin or starts
/// threads.
///
/// Thread Safety: call once, from main.
std::optional<int> run_as_worker(int argc, char** argv);

}  // namespace rsp
