// rsparallel: a console progress bar drawn from rsp::Progress, like Write-Progress.
//
// @code
//   auto bar = rsp::ProgressBar::for_stderr();  // null unless stderr is a terminal
//   rsp::receive_runspace_job(*pool, {.on_progress = [&](const rsp::Progress& p) {
//     if (bar) bar->update(p);
//   }}, consume);
//   if (bar) bar->finish();
// @endcode
#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>

#include "rsparallel/job.hpp"

namespace rsp {

/// Draws one line, redrawn in place after a carriage return, at most once per min_interval.
///
/// Thread Safety: Distinct objects: safe. Shared objects: unsafe.
class ProgressBar {
 public:
  struct Options {
    std::size_t width = 80;  // columns of the whole line
    std::chrono::milliseconds min_interval{100};
  };

  ProgressBar(std::ostream& out, Options options);
  /// A bar on std::cerr sized to the terminal, or null when stderr is not a terminal.
  static std::unique_ptr<ProgressBar> for_stderr();

  /// Draws `progress` if min_interval passed since the last drawing (the first always draws).
  /// Returns whether it drew.
  bool update(const Progress& progress,
              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  /// Blanks the line, leaving the cursor at its start; later updates draw again.
  void finish();

  /// The line for `progress` in `width` columns: bar, percent, done/total, rate, ETA and the
  /// failed and timed-out counts when not zero. While the total is not known, "done/total+",
  /// rate and elapsed time, with no bar.
  static std::string render(const Progress& progress, std::size_t width);

 private:
  std::ostream* out_;
  Options options_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace rsp
