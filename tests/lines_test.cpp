// Unit tests of include/rsparallel/lines.hpp: rsp::lines over streams, files and a slow FIFO, and
// as the inputs of new_runspace_job and invoke_parallel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ranges>
#include <span>
#include <sstream>
#include <streambuf>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <rsparallel/rsparallel.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::scaled;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

using Lines = std::vector<std::string>;

Lines read_all(rsp::LineRange range) {
  Lines lines;
  for (std::string& line : range) lines.push_back(line);
  return lines;
}

Lines of(const std::string& text) {
  std::istringstream in(text);
  return read_all(rsp::lines(in));
}

/// A directory of its own in the temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() /
              ("rsp_lines_" + stem + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// Lines of the jobs' Output in input order, one string per job.
Lines outputs_in_order(std::vector<rsp::ReceivedJob> jobs) {
  std::sort(jobs.begin(), jobs.end(),
            [](const auto& a, const auto& b) { return a.input_index < b.input_index; });
  return rsp::outputs_as<std::string>(jobs);
}

/// Serves `text`, then fails the next read (its underflow throws, which sets the stream's badbit).
class FailingBuf : public std::streambuf {
 public:
  explicit FailingBuf(std::string text) : text_(std::move(text)) {
    setg(text_.data(), text_.data(), text_.data() + text_.size());
  }

 protected:
  int_type underflow() override { throw std::runtime_error("disk on fire"); }

 private:
  std::string text_;
};

}  // namespace

// What the library relies on: a single-pass range (jobs are handed over before each read) of
// std::string, and a view (cheap to move into a batch that owns it).
TEST(Lines, IsASinglePassViewOfStrings) {
  static_assert(std::ranges::input_range<rsp::LineRange>);
  static_assert(!std::ranges::forward_range<rsp::LineRange>);
  static_assert(std::ranges::view<rsp::LineRange>);
  static_assert(std::is_same_v<std::ranges::range_value_t<rsp::LineRange>, std::string>);
  static_assert(
      std::is_same_v<decltype(rsp::lines(std::declval<std::istream&>())), rsp::LineRange>);
  static_assert(std::is_same_v<decltype(rsp::lines(std::filesystem::path())), rsp::LineRange>);
  EXPECT_TRUE(read_all(rsp::LineRange()).empty());
}

TEST(Lines, OneStringPerLineWithEmptyLinesKept) {
  EXPECT_THAT(of("a\nbb\n\nccc\n"), ElementsAre("a", "bb", "", "ccc"));
  EXPECT_THAT(of("\n"), ElementsAre(""));
  EXPECT_THAT(of("\n\n"), ElementsAre("", ""));
  EXPECT_THAT(of("  spaced out  \n\t\n"), ElementsAre("  spaced out  ", "\t"));
  EXPECT_TRUE(of("").empty());
}

TEST(Lines, LastLineWithoutNewlineIsALine) {
  EXPECT_THAT(of("a\nb"), ElementsAre("a", "b"));
  EXPECT_THAT(of("only"), ElementsAre("only"));
  EXPECT_THAT(of("a\n\nb"), ElementsAre("a", "", "b"));
}

TEST(Lines, CrlfLineEndsGiveTheSameLinesAsLf) {
  EXPECT_EQ(of("a\r\nbb\r\n\r\nccc\r\n"), of("a\nbb\n\nccc\n"));
  EXPECT_THAT(of("a\r\nb\r"), ElementsAre("a", "b"));  // a CRLF file without its last LF
  // Only the one CR right before the line end goes; others are text.
  EXPECT_THAT(of("a\rb\r\n"), ElementsAre("a\rb"));
  EXPECT_THAT(of("a\r\r\n"), ElementsAre("a\r"));
  EXPECT_THAT(of("\r\n"), ElementsAre(""));
}

// Nothing is read at the call, and each step reads one line only.
TEST(Lines, ReadsOneLineAtATime) {
  std::istringstream in("one\ntwo\nthree\n");
  rsp::LineRange range = rsp::lines(in);
  EXPECT_EQ(in.tellg(), 0);
  auto it = range.begin();
  EXPECT_EQ(*it, "one");
  EXPECT_EQ(in.tellg(), 4);
  ++it;
  EXPECT_EQ(*it, "two");
  EXPECT_EQ(in.tellg(), 8);
}

// A batch may own the range and move it after begin(): the iterators stay valid.
TEST(Lines, MovingTheRangeKeepsItsIterators) {
  std::istringstream in("x\ny\nz\n");
  rsp::LineRange first = rsp::lines(in);
  auto it = first.begin();
  rsp::LineRange second = std::move(first);
  EXPECT_EQ(*it, "x");
  ++it;
  EXPECT_EQ(*it, "y");
  ++it;
  EXPECT_EQ(*it, "z");
  ++it;
  EXPECT_TRUE(it == second.end());
}

TEST(Lines, FromAFile) {
  TempDir dir("file");
  write_file(dir.path() / "in.txt", "first\r\nsecond, with a comma\n\nlast");
  EXPECT_THAT(read_all(rsp::lines(dir.path() / "in.txt")),
              ElementsAre("first", "second, with a comma", "", "last"));
  write_file(dir.path() / "empty.txt", "");
  EXPECT_TRUE(read_all(rsp::lines(dir.path() / "empty.txt")).empty());
}

// A missing file fails at the call, not later in the feeder, with an error naming the path that
// is both a filesystem_error and a system_error.
TEST(Lines, MissingFileThrowsNamingThePath) {
  TempDir dir("missing");
  const std::filesystem::path missing = dir.path() / "no such file.txt";
  try {
    rsp::lines(missing);
    FAIL() << "no exception";
  } catch (const std::filesystem::filesystem_error& e) {
    EXPECT_EQ(e.path1(), missing);
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    EXPECT_THAT(e.what(), HasSubstr(missing.string()));
    EXPECT_THAT(e.what(), HasSubstr("rsp::lines"));
  }
  EXPECT_THROW(rsp::lines(missing), std::system_error);
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  EXPECT_THROW(rsp::new_runspace_job(*pool, rsp::lines(missing), [](const std::string&) {}),
               std::system_error);
  EXPECT_EQ(pool->registry().size(), 0u);
}

// std::ifstream would open a directory and read nothing: an error instead.
TEST(Lines, DirectoryThrowsNamingThePath) {
  TempDir dir("directory");
  try {
    rsp::lines(dir.path());
    FAIL() << "no exception";
  } catch (const std::filesystem::filesystem_error& e) {
    EXPECT_EQ(e.path1(), dir.path());
    EXPECT_EQ(e.code(), std::errc::is_a_directory);
  }
}

TEST(Lines, ReadFailureThrows) {
  FailingBuf buf("fine\n");
  std::istream in(&buf);
  rsp::LineRange range = rsp::lines(in);
  auto it = range.begin();
  EXPECT_EQ(*it, "fine");
  try {
    ++it;
    FAIL() << "no exception";
  } catch (const std::ios_base::failure& e) {
    EXPECT_THAT(e.what(), HasSubstr("the stream"));
  }
}

// The library's promise for a range that throws: the jobs read before it run, and the failure is
// a Failed job where reading failed.
TEST(Lines, ReadFailureBecomesAFailedJob) {
  FailingBuf buf("a\nb\n");
  std::istream in(&buf);
  auto jobs = rsp::invoke_parallel(rsp::lines(in), [](const std::string& s) { return s; },
                                   {.max_running = 2});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].output_as<std::string>(), Lines{"a"});
  EXPECT_EQ(jobs[1].output_as<std::string>(), Lines{"b"});
  EXPECT_EQ(jobs[2].state, rsp::JobState::Failed);
  EXPECT_EQ(jobs[2].input_index, 2u);
  ASSERT_EQ(jobs[2].errors.size(), 1u);
  EXPECT_THAT(jobs[2].errors[0].message, HasSubstr("rsp::lines"));
}

// Owned (an rvalue) and referenced (an lvalue): one job per line, each given its line.
TEST(Lines, InputsOfNewRunspaceJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  std::istringstream owned_in("a\r\nb\n\nd");
  rsp::JobBatch owned = rsp::new_runspace_job(
      *pool, rsp::lines(owned_in), [](const std::string& line) { return "<" + line + ">"; },
      {.name = "owned"});
  std::istringstream referenced_in("1\n2\n3\n4\n5\n");
  rsp::LineRange referenced = rsp::lines(referenced_in);
  rsp::JobBatch batch = rsp::new_runspace_job(
      *pool, referenced, [](std::span<const std::string> slice) { return slice.size(); },
      {.name = "referenced", .slice_size = 2});
  ASSERT_TRUE(owned.wait_for(scaled(10s)));
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(owned.created(), 4u);
  EXPECT_THAT(outputs_in_order(rsp::receive_runspace_job(*pool, {.name = "owned"})),
              ElementsAre("<a>", "<b>", "<>", "<d>"));
  auto sliced = rsp::receive_runspace_job(*pool, {.name = "referenced"});
  EXPECT_EQ(rsp::outputs_as<std::size_t>(sliced), (std::vector<std::size_t>{2, 2, 1}));
}

TEST(Lines, InputsOfInvokeParallel) {
  TempDir dir("invoke");
  Lines expected;
  std::string text;
  for (int i = 0; i < 500; ++i) {
    expected.push_back(i % 7 == 0 ? "" : "line " + std::to_string(i));
    text += expected.back() + (i % 2 == 0 ? "\r\n" : "\n");
  }
  write_file(dir.path() / "in.txt", text);
  auto echo = [](const std::string& line) { return line; };
  EXPECT_EQ(rsp::outputs_as<std::string>(
                rsp::invoke_parallel(rsp::lines(dir.path() / "in.txt"), echo, {.max_running = 2})),
            expected);
  // Automatic slices (64 for a range of unknown size) keep the order too.
  EXPECT_EQ(rsp::outputs_as<std::string>(rsp::invoke_parallel(
                rsp::lines(dir.path() / "in.txt"), echo, {.slice_size = 0, .max_running = 2})),
            expected);
}

// A writer feeding a FIFO slowly: each line's job starts while the writer still holds the FIFO
// open, waiting for it. A range that read ahead (or a feeder that waited for more lines before
// handing jobs over) would leave the writer waiting until its bound passed.
TEST(Lines, SlowFifoStartsJobsBeforeTheWriterFinishes) {
  TempDir dir("fifo");
  const std::filesystem::path fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  constexpr int kLines = 6;
  std::mutex mutex;
  std::vector<int> started;  // indexes of the jobs started so far
  std::atomic<int> seen_by_writer{0};
  auto started_count = [&] {
    std::lock_guard lock(mutex);
    return started.size();
  };
  std::thread writer([&] {
    std::ofstream out(fifo);  // waits for the reader to open the FIFO
    for (int i = 0; i < kLines; ++i) {
      out << "item " << i << '\n' << std::flush;
      if (!rsp_test::eventually([&] { return started_count() > static_cast<std::size_t>(i); },
                                2s)) {
        break;
      }
      seen_by_writer = i + 1;
      std::this_thread::sleep_for(10ms);
    }
  });
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch;
  try {
    batch = rsp::new_runspace_job(*pool, rsp::lines(fifo), [&](const std::string& line) {
      {
        std::lock_guard lock(mutex);
        started.push_back(std::stoi(line.substr(5)));
      }
      return line;
    });
  } catch (...) {
    writer.join();
    throw;
  }
  writer.join();  // closes the FIFO: the range ends
  EXPECT_EQ(seen_by_writer.load(), kLines) << "a job did not start until the writer gave up";
  ASSERT_TRUE(batch.wait_for(scaled(10s)));
  EXPECT_EQ(batch.created(), static_cast<std::size_t>(kLines));
  EXPECT_THAT(outputs_in_order(rsp::receive_runspace_job(*pool, {})),
              ElementsAre("item 0", "item 1", "item 2", "item 3", "item 4", "item 5"));
}
