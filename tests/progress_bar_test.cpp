// rsp::ProgressBar: the console line drawn from rsp::Progress.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

#include <rsparallel/progress_bar.hpp>

using namespace std::chrono_literals;

namespace {

rsp::Progress progress_of(std::size_t total, std::size_t completed,
                          std::chrono::nanoseconds elapsed = 0ns) {
  rsp::Progress progress;
  progress.total = total;
  progress.completed = completed;
  progress.received = completed;
  progress.not_started = total - completed;
  progress.elapsed = elapsed;
  return progress;
}

/// The part of the line between '[' and ']', or nothing when there is no bar.
std::string bar_of(const std::string& line) {
  std::size_t open = line.find('[');
  std::size_t close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return line.substr(open + 1, close - open - 1);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(ProgressBar, RenderZeroPercent) {
  std::string line = rsp::ProgressBar::render(progress_of(10, 0), 80);
  EXPECT_TRUE(contains(line, " 0%")) << line;
  EXPECT_TRUE(contains(line, "0/10")) << line;
  std::string bar = bar_of(line);
  ASSERT_FALSE(bar.empty()) << line;
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), 0) << line;
}

TEST(ProgressBar, RenderFiftyPercent) {
  std::string line = rsp::ProgressBar::render(progress_of(10, 5, 1s), 80);
  EXPECT_TRUE(contains(line, "50%")) << line;
  EXPECT_TRUE(contains(line, "5/10")) << line;
  std::string bar = bar_of(line);
  ASSERT_GE(bar.size(), 10u) << line;
  auto filled = static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '#'));
  auto empty = static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '.'));
  EXPECT_EQ(filled + empty, bar.size()) << line;
  EXPECT_LE(filled > empty ? filled - empty : empty - filled, 1u) << line;
  // Filled from the left.
  EXPECT_EQ(bar.find('.'), filled) << line;
}

TEST(ProgressBar, RenderHundredPercent) {
  std::string line = rsp::ProgressBar::render(progress_of(10, 10, 2s), 80);
  EXPECT_TRUE(contains(line, "100%")) << line;
  EXPECT_TRUE(contains(line, "10/10")) << line;
  std::string bar = bar_of(line);
  ASSERT_FALSE(bar.empty()) << line;
  EXPECT_EQ(bar, std::string(bar.size(), '#')) << line;
}

// Failed, stopped and timed-out jobs count as done.
TEST(ProgressBar, RenderCountsEveryFinishedStateAsDone) {
  rsp::Progress progress = progress_of(10, 4, 1s);
  progress.failed = 2;
  progress.stopped = 1;
  progress.timed_out = 3;
  progress.not_started = 0;
  std::string line = rsp::ProgressBar::render(progress, 120);
  EXPECT_TRUE(contains(line, "100%")) << line;
  EXPECT_TRUE(contains(line, "10/10")) << line;
}

// total 0 (nothing to do yet): a sane line, no division by zero.
TEST(ProgressBar, RenderTotalZero) {
  std::string line = rsp::ProgressBar::render(progress_of(0, 0, 1s), 80);
  EXPECT_FALSE(line.empty());
  EXPECT_TRUE(contains(line, "0/0")) << line;
  EXPECT_TRUE(contains(line, " 0%")) << line;
  for (const char* bad : {"nan", "inf", "NaN", "INF"}) EXPECT_FALSE(contains(line, bad)) << line;
  EXPECT_LE(line.size(), 80u);
}

TEST(ProgressBar, RenderShowsFailedAndTimedOutOnlyWhenNonZero) {
  rsp::Progress clean = progress_of(10, 5, 1s);
  std::string line = rsp::ProgressBar::render(clean, 120);
  EXPECT_FALSE(contains(line, "failed")) << line;
  EXPECT_FALSE(contains(line, "timed out")) << line;

  rsp::Progress failed = clean;
  failed.failed = 2;
  line = rsp::ProgressBar::render(failed, 120);
  EXPECT_TRUE(contains(line, "failed 2")) << line;
  EXPECT_FALSE(contains(line, "timed out")) << line;

  rsp::Progress timed_out = clean;
  timed_out.timed_out = 3;
  line = rsp::ProgressBar::render(timed_out, 120);
  EXPECT_FALSE(contains(line, "failed")) << line;
  EXPECT_TRUE(contains(line, "timed out 3")) << line;

  rsp::Progress both = clean;
  both.failed = 4;
  both.timed_out = 1;
  line = rsp::ProgressBar::render(both, 120);
  EXPECT_TRUE(contains(line, "failed 4")) << line;
  EXPECT_TRUE(contains(line, "timed out 1")) << line;
}

// 20 of 100 done in 10 s: 2.0 jobs/s, 80 left, so 40 s to go.
TEST(ProgressBar, RenderRateAndEta) {
  std::string line = rsp::ProgressBar::render(progress_of(100, 20, 10s), 120);
  EXPECT_TRUE(contains(line, "2.0/s")) << line;
  EXPECT_TRUE(contains(line, "0:40")) << line;

  // 1 of 10001 in 1 s: 10000 s left = 2:46:40.
  line = rsp::ProgressBar::render(progress_of(10001, 1, 1s), 120);
  EXPECT_TRUE(contains(line, "1.0/s")) << line;
  EXPECT_TRUE(contains(line, "2:46:40")) << line;

  // 90 of 100 in 3 min: 0.5/s, 20 s left.
  line = rsp::ProgressBar::render(progress_of(100, 90, 180s), 120);
  EXPECT_TRUE(contains(line, "0.5/s")) << line;
  EXPECT_TRUE(contains(line, "0:20")) << line;
}

// Nothing done yet: no rate, so no ETA number (no "inf" or a made-up time).
TEST(ProgressBar, RenderNoEtaWithoutRate) {
  std::string line = rsp::ProgressBar::render(progress_of(100, 0, 5s), 120);
  EXPECT_TRUE(contains(line, "0.0/s")) << line;
  EXPECT_FALSE(contains(line, "inf")) << line;
  EXPECT_FALSE(contains(line, "nan")) << line;
  EXPECT_TRUE(contains(line, "--:--")) << line;
}

TEST(ProgressBar, RenderNeverWiderThanWidthAndOneLine) {
  rsp::Progress busy = progress_of(123456, 65432, 3723s);
  busy.failed = 1234;
  busy.timed_out = 5678;
  busy.not_started = 0;
  for (std::size_t width : {0u, 1u, 10u, 20u, 40u, 80u, 200u}) {
    for (const rsp::Progress& progress :
         {busy, progress_of(0, 0), progress_of(10, 5, 1s), progress_of(10, 10, 1s)}) {
      std::string line = rsp::ProgressBar::render(progress, width);
      EXPECT_LE(line.size(), width) << "width " << width << ": '" << line << "'";
      EXPECT_EQ(line.find('\n'), std::string::npos) << line;
      EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    }
  }
  // A wide line has room for the bar and every number.
  std::string wide = rsp::ProgressBar::render(busy, 200);
  EXPECT_FALSE(bar_of(wide).empty()) << wide;
  EXPECT_TRUE(contains(wide, "/123456")) << wide;
  EXPECT_TRUE(contains(wide, "failed 1234")) << wide;
  EXPECT_TRUE(contains(wide, "timed out 5678")) << wide;
}

// update(): the first call draws; within min_interval of the last drawing it does not; after it,
// it draws again. Each drawing is '\r' and a line padded to the width.
TEST(ProgressBar, UpdateDrawsAtMostOncePerInterval) {
  std::ostringstream out;
  rsp::ProgressBar bar(out, {.width = 40, .min_interval = 100ms});
  auto t0 = std::chrono::steady_clock::now();

  EXPECT_TRUE(bar.update(progress_of(10, 1, 1s), t0));
  std::string first = out.str();
  ASSERT_EQ(first.size(), 41u) << first;
  EXPECT_EQ(first[0], '\r');
  EXPECT_EQ(first.find('\n'), std::string::npos);
  EXPECT_TRUE(contains(first, "1/10")) << first;

  EXPECT_FALSE(bar.update(progress_of(10, 2, 1s), t0 + 10ms));
  EXPECT_FALSE(bar.update(progress_of(10, 3, 1s), t0 + 90ms));
  EXPECT_EQ(out.str(), first);  // nothing drawn

  EXPECT_TRUE(bar.update(progress_of(10, 4, 1s), t0 + 150ms));
  std::string second = out.str().substr(first.size());
  ASSERT_EQ(second.size(), 41u) << second;
  EXPECT_EQ(second[0], '\r');
  EXPECT_TRUE(contains(second, "4/10")) << second;

  // The interval counts from the last drawing, not from the first.
  EXPECT_FALSE(bar.update(progress_of(10, 5, 1s), t0 + 200ms));
  EXPECT_TRUE(bar.update(progress_of(10, 6, 1s), t0 + 260ms));
  EXPECT_EQ(out.str().size(), 3 * 41u);
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
}

// A shorter line is padded so that it covers what a longer one left on the screen.
TEST(ProgressBar, UpdatePadsShortLinesToWidth) {
  std::ostringstream out;
  rsp::ProgressBar bar(out, {.width = 150, .min_interval = 0ms});
  rsp::Progress longer = progress_of(1000, 10, 1s);
  longer.failed = 10;
  longer.timed_out = 10;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(bar.update(longer, t0));
  ASSERT_TRUE(bar.update(progress_of(10, 1, 1s), t0 + 1s));
  std::string text = out.str();
  ASSERT_EQ(text.size(), 2 * 151u);
  std::string second = text.substr(151);
  EXPECT_EQ(second[0], '\r');
  EXPECT_FALSE(contains(second, "failed")) << second;
}

// finish(): blanks the drawn line and leaves the cursor at its start; later updates draw again.
TEST(ProgressBar, FinishBlanksTheLine) {
  std::ostringstream out;
  rsp::ProgressBar bar(out, {.width = 30, .min_interval = 1h});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(bar.update(progress_of(10, 5, 1s), t0));
  std::size_t drawn = out.str().size();
  bar.finish();
  std::string text = out.str();
  ASSERT_GT(text.size(), drawn);
  EXPECT_EQ(text.back(), '\r');
  std::string blank = text.substr(drawn);
  EXPECT_EQ(blank, "\r" + std::string(30, ' ') + "\r");
  EXPECT_EQ(text.find('\n'), std::string::npos);

  // A second finish() has nothing to blank.
  bar.finish();
  EXPECT_EQ(out.str(), text);

  // After finish() the next update draws, even within min_interval.
  EXPECT_TRUE(bar.update(progress_of(10, 6, 1s), t0 + 1ms));
  EXPECT_TRUE(contains(out.str().substr(text.size()), "6/10"));
}

TEST(ProgressBar, FinishDrawsNothingWhenNothingWasDrawn) {
  std::ostringstream out;
  rsp::ProgressBar bar(out, {.width = 30, .min_interval = 100ms});
  bar.finish();
  EXPECT_EQ(out.str(), "");
}

// for_stderr(): null when stderr is not a terminal. Captured stderr (a file) never is.
TEST(ProgressBar, ForStderrNullWhenStderrIsNotATerminal) {
  testing::internal::CaptureStderr();
  bool tty = ::isatty(STDERR_FILENO) != 0;
  auto captured_bar = rsp::ProgressBar::for_stderr();
  std::string written = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(tty);
  EXPECT_EQ(captured_bar, nullptr);
  EXPECT_EQ(written, "");

  // And as the test runs (under ctest stderr is a pipe or file, not a terminal).
  auto bar = rsp::ProgressBar::for_stderr();
  if (::isatty(STDERR_FILENO) == 0) {
    EXPECT_EQ(bar, nullptr);
  } else {
    EXPECT_NE(bar, nullptr);
  }
}
