#include "rsparallel/progress_bar.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace rsp {

namespace {

std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 359999) return "--:--";
  auto total = static_cast<long>(seconds + 0.5);
  char text[48];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

}  // namespace

ProgressBar::ProgressBar(std::ostream& out, Options options) : out_(&out), options_(options) {}

std::unique_ptr<ProgressBar> ProgressBar::for_stderr() {
  if (::isatty(STDERR_FILENO) == 0) return nullptr;
  Options options;
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) {
    options.width = size.ws_col - 1;  // the last column would wrap on some terminals
  }
  return std::make_unique<ProgressBar>(std::cerr, options);
}

std::string ProgressBar::render(const Progress& progress, std::size_t width) {
  std::size_t done = progress.finished();
  double fraction = progress.total == 0 ? 0.0 : static_cast<double>(done) / progress.total;
  if (fraction > 1.0) fraction = 1.0;
  double seconds = std::chrono::duration<double>(progress.elapsed).count();
  double rate = seconds > 0 ? done / seconds : 0.0;
  double eta = rate > 0 && progress.total >= done ? (progress.total - done) / rate : -1;

  char numbers[160];
  if (progress.total_known) {
    std::snprintf(numbers, sizeof numbers, " %3d%% %zu/%zu %.1f/s ETA %s",
                  static_cast<int>(fraction * 100), done, progress.total, rate,
                  clock_text(eta).c_str());
  } else {
    // No percent or ETA to promise while the input's end is unknown.
    std::snprintf(numbers, sizeof numbers, " %zu/%zu+ %.1f/s elapsed %s", done, progress.total,
                  rate, clock_text(seconds).c_str());
  }
  std::string tail = numbers;
  if (progress.failed != 0) tail += " failed " + std::to_string(progress.failed);
  if (progress.timed_out != 0) tail += " timed out " + std::to_string(progress.timed_out);

  std::string line;
  if (width > tail.size() + 7 && progress.total_known) {
    std::size_t inner = std::min<std::size_t>(width - tail.size() - 2, 50);
    auto filled = static_cast<std::size_t>(fraction * inner);
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive, GCC PR 105329) on
    // `"[" + std::string(...)` in optimized builds, and a consumer's Release build must be clean.
    line.reserve(inner + 2 + tail.size());
    line += '[';
    line.append(filled, '#');
    line.append(inner - filled, '.');
    line += ']';
  }
  line += tail;
  if (line.size() > width) line.resize(width);
  return line;
}

bool ProgressBar::update(const Progress& progress, std::chrono::steady_clock::time_point now) {
  if (drawn_ && now - last_ < options_.min_interval) return false;
  std::string line = render(progress, options_.width);
  line.resize(options_.width, ' ');  // overwrite what a longer line left
  *out_ << '\r' << line << std::flush;
  drawn_ = true;
  last_ = now;
  return true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  *out_ << '\r' << std::string(options_.width, ' ') << '\r' << std::flush;
  drawn_ = false;
}

}  // namespace rsp
