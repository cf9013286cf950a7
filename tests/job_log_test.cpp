// The CSV job log (ReceiveOptions::log_file), parsed back with a strict RFC 4180 parser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <ranges>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <rsparallel/rsparallel.hpp>
#include "detail/job_log.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using rsp_test::scaled;

namespace {

using Record = std::vector<std::string>;

struct CsvError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// RFC 4180, strictly: records end with CRLF (the last one too, as the log writes them), a field
/// is either plain (no comma, quote, CR or LF) or quoted with inner quotes doubled, and a quoted
/// field is followed by a comma or the record's CRLF. Anything else throws CsvError.
std::vector<Record> parse_csv(std::string_view text) {
  std::vector<Record> records;
  Record record;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto fail = [&](const std::string& what) {
    throw CsvError(what + " at offset " + std::to_string(i));
  };
  while (i < n) {
    std::string field;
    if (text[i] == '"') {
      ++i;
      for (;;) {
        if (i >= n) fail("unterminated quoted field");
        char c = text[i++];
        if (c != '"') {
          field += c;
        } else if (i < n && text[i] == '"') {
          field += '"';
          ++i;
        } else {
          break;
        }
      }
    } else {
      while (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
        if (text[i] == '"') fail("quote in a plain field");
        field += text[i++];
      }
    }
    record.push_back(std::move(field));
    if (i >= n) fail("record not ended by CRLF");
    if (text[i] == ',') {
      ++i;
      if (i >= n) fail("record not ended by CRLF");
      continue;
    }
    if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') {
      i += 2;
      records.push_back(std::move(record));
      record.clear();
      continue;
    }
    fail("stray character after a field");
  }
  return records;
}

const Record kHeader = {"id",         "name",    "state",    "input_index",
                        "queued",     "started", "finished", "duration_ms",
                        "had_errors", "errors",  "warnings", "run"};

enum Column {
  kId,
  kName,
  kState,
  kInputIndex,
  kQueued,
  kStarted,
  kFinished,
  kDurationMs,
  kHadErrors,
  kErrors,
  kWarnings,
  kRun
};

/// The messages of an errors or warnings field: the field is itself one CSV record (empty: none).
Record messages_of(const std::string& field) {
  if (field.empty()) return {};
  std::vector<Record> records = parse_csv(field + "\r\n");
  if (records.size() != 1) throw CsvError("not one record: " + field);
  return records[0];
}

/// A file path of its own in the temp dir, removed at the end of the test.
class TempPath {
 public:
  explicit TempPath(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() /
              ("rsp_job_log_" + stem + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
  }
  ~TempPath() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::chrono::system_clock::time_point utc(int year, unsigned month, unsigned day,
                                          std::chrono::nanoseconds time_of_day) {
  using namespace std::chrono;
  return system_clock::time_point(duration_cast<system_clock::duration>(
      sys_days(std::chrono::year(year) / month / day).time_since_epoch() + time_of_day));
}

rsp::ErrorRecord error(std::string message) {
  return rsp::ErrorRecord{.message = std::move(message), .type = "rsp::WriteError"};
}

const std::regex kIsoTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

}  // namespace

// The parser itself rejects what RFC 4180 forbids, so the tests below can trust it.
TEST(JobLog, ParserRejectsMalformedCsv) {
  EXPECT_EQ(parse_csv("a,\"b,\"\"c\"\r\n"), (std::vector<Record>{{"a", "b,\"c"}}));
  EXPECT_EQ(parse_csv("\r\n"), (std::vector<Record>{{""}}));
  EXPECT_THROW(parse_csv("a,b"), CsvError);         // no CRLF
  EXPECT_THROW(parse_csv("a,b\n"), CsvError);       // LF alone
  EXPECT_THROW(parse_csv("a\rb\r\n"), CsvError);    // CR in a plain field
  EXPECT_THROW(parse_csv("a\"b\r\n"), CsvError);    // quote in a plain field
  EXPECT_THROW(parse_csv("\"ab\r\n"), CsvError);    // unterminated
  EXPECT_THROW(parse_csv("\"a\"b\r\n"), CsvError);  // text after the closing quote
  EXPECT_THROW(parse_csv("a,\r\nb"), CsvError);     // last record unterminated
}

TEST(JobLog, HeaderColumnsExactly) {
  std::string header = rsp::detail::csv_header();
  EXPECT_TRUE(header.ends_with("\r\n"));
  EXPECT_EQ(header,
            "id,name,state,input_index,queued,started,finished,duration_ms,had_errors,"
            "errors,warnings,run\r\n");
  EXPECT_EQ(parse_csv(header), std::vector<Record>{kHeader});
}

TEST(JobLog, CsvFieldQuotesOnlyWhenNeeded) {
  using rsp::detail::csv_field;
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("plain text 123"), "plain text 123");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv_field("\""), "\"\"\"\"");
}

// Name, errors and warnings with commas, quotes, CR, LF and CRLF come back exactly; several errors
// (and warnings) stay apart, one CSV field each inside their column, so that a message with a line
// break is not taken for two, nor two for one.
TEST(JobLog, RowWithSpecialCharactersRoundTrips) {
  rsp::ReceivedJob job;
  job.id = 42;
  job.name = "name, with \"quotes\"\r\nand\nlines\r";
  job.state = rsp::JobState::Failed;
  job.input_index = 7;
  job.queued = utc(2026, 11, 21, 21h + 47min + 30s + 5ms);
  job.started = utc(2026, 11, 21, 21h + 47min + 31s + 123ms);
  job.finished = utc(2026, 11, 21, 21h + 47min + 32s + 357ms + 400us);
  job.duration = 1234ms + 567us;
  job.errors = {error("first, \"bad\"\r\nthing"), error("second\nline"), error("")};
  job.warnings = {"warn,1", "\"w2\"", "cr\r"};

  std::vector<Record> records = parse_csv(rsp::detail::csv_row(job, "run 1"));
  ASSERT_EQ(records.size(), 1u);
  const Record& row = records[0];
  ASSERT_EQ(row.size(), kHeader.size());
  EXPECT_EQ(row[kId], "42");
  EXPECT_EQ(row[kName], job.name);
  EXPECT_EQ(row[kState], "Failed");
  EXPECT_EQ(row[kInputIndex], "7");
  EXPECT_EQ(row[kQueued], "2026-11-21T21:47:30.005Z");
  EXPECT_EQ(row[kStarted], "2026-11-21T21:47:31.123Z");
  EXPECT_EQ(row[kFinished], "2026-11-21T21:47:32.357Z");
  EXPECT_NEAR(std::stod(row[kDurationMs]), 1234.567, 0.01) << row[kDurationMs];
  EXPECT_EQ(row[kHadErrors], "true");
  EXPECT_EQ(messages_of(row[kErrors]), (Record{"first, \"bad\"\r\nthing", "second\nline", ""}));
  EXPECT_EQ(messages_of(row[kWarnings]), (Record{"warn,1", "\"w2\"", "cr\r"}));
  EXPECT_EQ(row[kRun], "run 1");
}

// The inner record: a plain message stays plain, so a single ordinary error reads as itself.
TEST(JobLog, CsvListOfMessages) {
  using rsp::detail::csv_list;
  EXPECT_EQ(csv_list({}), "");
  EXPECT_EQ(csv_list({"timed out after 50 ms"}), "timed out after 50 ms");
  EXPECT_EQ(csv_list({"a", "b"}), "a,b");
  EXPECT_EQ(csv_list({"a,b"}), "\"a,b\"");
  EXPECT_EQ(csv_list({"two\nlines"}), "\"two\nlines\"");
  EXPECT_EQ(csv_list({""}), "\"\"");  // one empty message is not none
  EXPECT_EQ(csv_list({"", ""}), "\"\",\"\"");
}

TEST(JobLog, RunIdsAreUniqueAndReadable) {
  std::string first = rsp::detail::new_run_id();
  std::string second = rsp::detail::new_run_id();
  EXPECT_NE(first, second);
  const std::regex form(R"(\d{8}T\d{6}\.\d{3}Z-\d+-\d+)");
  EXPECT_TRUE(std::regex_match(first, form)) << first;
  EXPECT_EQ(rsp::detail::csv_field(first), first);  // never needs quoting
  EXPECT_NE(first.find("-" + std::to_string(::getpid()) + "-"), std::string::npos) << first;
}

TEST(JobLog, RowWithoutErrors) {
  rsp::ReceivedJob job;
  job.id = 3;
  job.name = "plain";
  job.state = rsp::JobState::Completed;
  job.started = job.queued = job.finished = utc(2024, 2, 29, 0ns);
  std::vector<Record> records = parse_csv(rsp::detail::csv_row(job, "r"));
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].size(), kHeader.size());
  EXPECT_EQ(records[0][kName], "plain");
  EXPECT_EQ(records[0][kStarted], "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(records[0][kHadErrors], "false");
  EXPECT_EQ(records[0][kErrors], "");
  EXPECT_EQ(records[0][kWarnings], "");
}

TEST(JobLog, IsoTimeFormat) {
  using rsp::detail::iso_time;
  EXPECT_EQ(iso_time(utc(2026, 11, 21, 21h + 47min + 31s + 123ms)), "2026-11-21T21:47:31.123Z");
  // Sub-millisecond digits are cut, not rounded into the next second.
  EXPECT_EQ(iso_time(utc(1999, 12, 31, 23h + 59min + 59s + 999999us)), "1999-12-31T23:59:59.999Z");
  EXPECT_EQ(iso_time(utc(2000, 1, 2, 3h + 4min + 5s + 6ms)), "2000-01-02T03:04:05.006Z");
  // A time that never came (a job that never started) is empty.
  EXPECT_EQ(iso_time(std::chrono::system_clock::time_point{}), "");
  std::string now = iso_time(std::chrono::system_clock::now());
  EXPECT_TRUE(std::regex_match(now, kIsoTime)) << now;
}

TEST(JobLog, NeverStartedJobHasEmptyStarted) {
  rsp::ReceivedJob job;
  job.id = 9;
  job.state = rsp::JobState::Stopped;
  job.queued = job.finished = utc(2026, 1, 1, 1s);
  std::vector<Record> records = parse_csv(rsp::detail::csv_row(job, "r"));
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].size(), kHeader.size());
  EXPECT_EQ(records[0][kState], "Stopped");
  EXPECT_EQ(records[0][kQueued], "2026-01-01T00:00:01.000Z");
  EXPECT_EQ(records[0][kStarted], "");
  EXPECT_EQ(records[0][kFinished], "2026-01-01T00:00:01.000Z");
  EXPECT_DOUBLE_EQ(std::stod(records[0][kDurationMs]), 0.0);
}

// Through the real API: jobs stopped before they started are logged with an empty start time.
TEST(JobLog, StoppedBeforeStartingLoggedWithEmptyStarted) {
  TempPath log("never_started");
  auto pool = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = 1});
  std::atomic<bool> running{false};
  // Job 0 runs until it is stopped (a far cap, so a lost stop fails the test rather than hang).
  rsp::JobBatch batch = rsp::new_runspace_job(*pool, std::views::iota(0, 5),
                                              [&running](int i, rsp::JobContext& ctx) {
                                                if (i != 0) return i;
                                                running = true;
                                                auto give_up =
                                                    std::chrono::steady_clock::now() + scaled(10s);
                                                while (std::chrono::steady_clock::now() < give_up) {
                                                  ctx.check_stop();
                                                  std::this_thread::sleep_for(2ms);
                                                }
                                                return i;
                                              },
                                              {.name = "stopped"});
  // Job 0 runs on the only runspace, and max_queue (3) jobs wait behind it.
  ASSERT_TRUE(rsp_test::eventually([&] { return running && batch.created() >= 3; }));
  ASSERT_EQ(batch.created(), 3u);
  batch.stop();
  auto jobs = rsp::receive_runspace_job(
      *pool, {.wait = true, .timeout = scaled(10s), .log_file = log.path()});
  ASSERT_EQ(jobs.size(), 3u);  // the running one and two never started

  std::vector<Record> records = parse_csv(read_file(log.path()));
  ASSERT_EQ(records.size(), jobs.size() + 1);
  EXPECT_EQ(records[0], kHeader);
  std::size_t never_started = 0;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& row = records[r];
    ASSERT_EQ(row.size(), kHeader.size());
    EXPECT_EQ(row[kState], "Stopped") << row[kId];
    EXPECT_TRUE(std::regex_match(row[kQueued], kIsoTime)) << row[kQueued];
    EXPECT_TRUE(std::regex_match(row[kFinished], kIsoTime)) << row[kFinished];
    if (row[kInputIndex] == "0") {
      EXPECT_TRUE(std::regex_match(row[kStarted], kIsoTime)) << row[kStarted];
    } else {
      EXPECT_EQ(row[kStarted], "") << "job " << row[kId];
      ++never_started;
    }
  }
  EXPECT_EQ(never_started, jobs.size() - 1);
}

// The header is written once, when the file is new; later appends, through the same JobLog or a
// new one, only add rows.
TEST(JobLog, HeaderWrittenOnceWhenAppendingInSeveralCalls) {
  TempPath log("append");
  rsp::ReceivedJob job;
  job.state = rsp::JobState::Completed;
  std::vector<std::string> rows;
  for (rsp::JobId id = 1; id <= 4; ++id) {
    job.id = id;
    job.name = "job \"" + std::to_string(id) + "\",\r\n";
    rows.push_back(rsp::detail::csv_row(job, "r"));
  }
  {
    rsp::detail::JobLog first(log.path());
    first.append({});  // nothing to write: not even the header
    first.append({rows[0]});
    first.append({rows[1]});
  }
  {
    rsp::detail::JobLog second(log.path());
    second.append({rows[2], rows[3]});
  }
  std::vector<Record> records = parse_csv(read_file(log.path()));
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0], kHeader);
  for (std::size_t r = 1; r < records.size(); ++r) {
    ASSERT_EQ(records[r].size(), kHeader.size());
    EXPECT_EQ(records[r][kId], std::to_string(r));
    EXPECT_EQ(records[r][kName], "job \"" + std::to_string(r) + "\",\r\n");
  }
}

// The same through receive_runspace_job: three receive calls into one log, one header.
TEST(JobLog, ReceiveCallsAppendToOneLogWithOneHeader) {
  TempPath log("receive_append");
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  std::set<std::string> expected_ids;
  for (int call = 0; call < 3; ++call) {
    rsp::new_runspace_job(*pool, std::views::iota(0, 4), [](int i, rsp::JobContext& ctx) {
      if (i % 2 == 1) ctx.write_warning("odd, \"" + std::to_string(i) + "\"\r\n");
      return i;
    });
    auto jobs = rsp::receive_runspace_job(
        *pool, {.wait = true, .timeout = scaled(10s), .log_file = log.path()});
    ASSERT_EQ(jobs.size(), 4u);
    for (const rsp::ReceivedJob& job : jobs) expected_ids.insert(std::to_string(job.id));
  }
  std::vector<Record> records = parse_csv(read_file(log.path()));
  ASSERT_EQ(records.size(), 13u);
  EXPECT_EQ(records[0], kHeader);
  std::set<std::string> logged_ids;
  std::set<std::string> runs;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& row = records[r];
    ASSERT_EQ(row.size(), kHeader.size());
    EXPECT_NE(row, kHeader);
    logged_ids.insert(row[kId]);
    runs.insert(row[kRun]);
    std::size_t index = std::stoul(row[kInputIndex]);
    EXPECT_EQ(messages_of(row[kWarnings]),
              index % 2 == 1 ? Record{"odd, \"" + std::to_string(index) + "\"\r\n"} : Record{});
    EXPECT_EQ(row[kHadErrors], "false");
  }
  EXPECT_EQ(logged_ids, expected_ids);
  EXPECT_EQ(runs.size(), 3u) << "one run per receive call";
}

// Two invoke_parallel calls appending to one log: each call's ids start at 1 again (a new pool and
// registry), and the run column tells the calls apart, so (run, id) is unique.
TEST(JobLog, AppendedRunsAreToldApart) {
  TempPath log("two_runs");
  for (int call = 0; call < 2; ++call) {
    auto jobs = rsp::invoke_parallel(std::views::iota(0, 5), [](int i) { return i; },
                                     {.max_running = 2, .log_file = log.path()});
    ASSERT_EQ(jobs.size(), 5u);
  }
  std::vector<Record> records = parse_csv(read_file(log.path()));
  ASSERT_EQ(records.size(), 11u);
  EXPECT_EQ(records[0], kHeader);
  std::map<std::string, std::set<std::string>> ids_by_run;
  for (std::size_t r = 1; r < records.size(); ++r) {
    ASSERT_EQ(records[r].size(), kHeader.size());
    EXPECT_FALSE(records[r][kRun].empty());
    EXPECT_TRUE(ids_by_run[records[r][kRun]].insert(records[r][kId]).second)
        << "run " << records[r][kRun] << " has id " << records[r][kId] << " twice";
  }
  ASSERT_EQ(ids_by_run.size(), 2u);
  for (const auto& [run, ids] : ids_by_run) {
    EXPECT_EQ(ids, (std::set<std::string>{"1", "2", "3", "4", "5"})) << run;
  }
}

// Through the real API: a job's several errors (one of them two lines long) and warnings come back
// from the log as the same messages, in order.
TEST(JobLog, SeveralErrorsStayApart) {
  TempPath log("several_errors");
  auto pool = rsp::new_runspace_pool({.max_runspaces = 1});
  rsp::new_runspace_job(*pool, std::views::iota(0, 1), [](int, rsp::JobContext& ctx) {
    ctx.write_error("first line\nsecond line of the first error");
    ctx.write_error("second error");
    ctx.write_warning("");
    ctx.write_warning("a, b");
    throw std::runtime_error("third, thrown");
  });
  auto jobs = rsp::receive_runspace_job(
      *pool, {.wait = true, .timeout = scaled(10s), .log_file = log.path()});
  ASSERT_EQ(jobs.size(), 1u);
  std::vector<Record> records = parse_csv(read_file(log.path()));
  ASSERT_EQ(records.size(), 2u);
  const Record& row = records[1];
  ASSERT_EQ(row.size(), kHeader.size());
  EXPECT_EQ(row[kState], "Failed");
  EXPECT_EQ(messages_of(row[kErrors]), (Record{"first line\nsecond line of the first error",
                                               "second error", "third, thrown"}));
  EXPECT_EQ(messages_of(row[kWarnings]), (Record{"", "a, b"}));
}

// Two threads streaming-receive from the same pool into the same file at once: one header and
// exactly one well-formed row per job.
TEST(JobLog, TwoThreadsReceivingIntoOneFile) {
  TempPath log("two_threads");
  constexpr int kJobs = 300;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 2, .max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::views::iota(0, kJobs),
                        [](int i, rsp::JobContext& ctx) {
                          if (i % 3 == 0)
                            ctx.write_error("error, \"" + std::to_string(i) + "\"\nmore");
                          if (i % 10 == 0) std::this_thread::sleep_for(1ms);
                          return i;
                        },
                        {.name = "two, \"threads\""});

  std::mutex mutex;
  std::vector<rsp::JobId> handed;
  std::size_t counts[2] = {0, 0};
  std::exception_ptr failures[2];
  auto receiver = [&](int which) {
    try {
      counts[which] = rsp::receive_runspace_job(
          *pool, {.timeout = scaled(20s), .log_file = log.path()}, [&](rsp::ReceivedJob job) {
            std::lock_guard lock(mutex);
            handed.push_back(job.id);
          });
    } catch (...) {
      failures[which] = std::current_exception();
    }
  };
  std::thread a(receiver, 0);
  std::thread b(receiver, 1);
  a.join();
  b.join();
  for (auto& failure : failures) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        FAIL() << "a receiver threw: " << e.what();
      }
    }
  }
  EXPECT_EQ(counts[0] + counts[1], static_cast<std::size_t>(kJobs));
  std::set<rsp::JobId> unique_handed(handed.begin(), handed.end());
  EXPECT_EQ(unique_handed.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(handed.size(), static_cast<std::size_t>(kJobs));

  std::vector<Record> records;
  ASSERT_NO_THROW(records = parse_csv(read_file(log.path())));
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kJobs) + 1);
  EXPECT_EQ(records[0], kHeader);
  std::map<rsp::JobId, int> rows_per_id;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& row = records[r];
    ASSERT_EQ(row.size(), kHeader.size()) << "row " << r;
    ASSERT_NE(row, kHeader) << "a second header at row " << r;
    ++rows_per_id[std::stoull(row[kId])];
    EXPECT_EQ(row[kName], "two, \"threads\"");
    EXPECT_EQ(row[kState], "Completed");
    std::size_t index = std::stoul(row[kInputIndex]);
    if (index % 3 == 0) {
      EXPECT_EQ(messages_of(row[kErrors]),
                Record{"error, \"" + std::to_string(index) + "\"\nmore"});
      EXPECT_EQ(row[kHadErrors], "true");
    } else {
      EXPECT_EQ(row[kErrors], "");
      EXPECT_EQ(row[kHadErrors], "false");
    }
  }
  EXPECT_EQ(rows_per_id.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, rows] : rows_per_id) {
    EXPECT_EQ(rows, 1) << "job " << id;
    EXPECT_TRUE(unique_handed.contains(id)) << "job " << id;
  }
}

// 10,000 random strings over an alphabet heavy in , " CR LF survive csv_field and the parser,
// alone and three to a record.
TEST(JobLog, RandomFieldsRoundTrip) {
  std::mt19937 random(20261121);
  const std::string alphabet = ",\"\r\nabcXYZ ";
  std::uniform_int_distribution<std::size_t> length(0, 16);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  auto random_text = [&] {
    std::string text(length(random), ' ');
    for (char& c : text) c = alphabet[pick(random)];
    return text;
  };
  for (int round = 0; round < 10'000; ++round) {
    std::string text = random_text();
    std::string field = rsp::detail::csv_field(text);
    if (text.find_first_of(",\"\r\n") == std::string::npos) {
      EXPECT_EQ(field, text);
    }
    std::vector<Record> parsed;
    ASSERT_NO_THROW(parsed = parse_csv(field + "\r\n")) << "round " << round;
    ASSERT_EQ(parsed, (std::vector<Record>{{text}})) << "round " << round;

    Record three = {random_text(), text, random_text()};
    std::string line = rsp::detail::csv_field(three[0]) + ',' + rsp::detail::csv_field(three[1]) +
                       ',' + rsp::detail::csv_field(three[2]) + "\r\n";
    ASSERT_NO_THROW(parsed = parse_csv(line)) << "round " << round;
    ASSERT_EQ(parsed, std::vector<Record>{three}) << "round " << round;
  }
}

// A log path that cannot be opened (a directory, a file under /proc) makes receive throw
// std::system_error naming the path, and no job is lost: they stay in the registry.
TEST(JobLog, UnopenableLogPathThrowsAndLosesNoJob) {
  TempPath dir("a_directory");
  std::filesystem::create_directories(dir.path());
  const std::filesystem::path paths[] = {dir.path(), "/proc/rsp_job_log_test.csv"};
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  for (const std::filesystem::path& path : paths) {
    EXPECT_THROW(rsp::detail::JobLog{path}, std::system_error) << path;
    try {
      rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s), .log_file = path});
      ADD_FAILURE() << "no exception for " << path;
    } catch (const std::system_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
      EXPECT_NE(e.code().value(), 0);
    }
    EXPECT_EQ(pool->registry().size(), 3u) << path;

    // The streaming form: the callback never sees a job.
    int handed = 0;
    try {
      rsp::receive_runspace_job(*pool, {.timeout = scaled(5s), .log_file = path},
                                [&handed](rsp::ReceivedJob) { ++handed; });
      ADD_FAILURE() << "no exception for " << path;
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    EXPECT_EQ(handed, 0);
    EXPECT_EQ(pool->registry().size(), 3u) << path;
  }
  auto jobs = rsp::receive_runspace_job(*pool, {});
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 1, 2}));
}

// A log that opens but cannot be written (/dev/full: ENOSPC): receive throws std::system_error
// naming the path, and the jobs it took go back to the registry.
TEST(JobLog, WriteFailureThrowsAndPutsJobsBack) {
  const std::filesystem::path full = "/dev/full";
  ASSERT_TRUE(std::filesystem::exists(full));
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  try {
    rsp::receive_runspace_job(*pool, {.wait = true, .timeout = scaled(5s), .log_file = full});
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), std::errc::no_space_on_device);
  }
  EXPECT_EQ(pool->registry().size(), 3u);
  auto jobs = rsp::receive_runspace_job(*pool, {});
  EXPECT_EQ(rsp::outputs_as<int>(jobs), (std::vector<int>{0, 1, 2}));
}

// The streaming form's documented promise: when the callback throws, that job and the ones taken
// with it but not yet handed over go back unreceived. That must hold when writing the rows of the
// jobs handed over before it fails too.
TEST(JobLog, CallbackThrowWithFailingLogLosesNoJob) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::JobBatch batch =
      rsp::new_runspace_job(*pool, std::views::iota(0, 3), [](int i) { return i; });
  ASSERT_TRUE(batch.wait_for(scaled(5s)));
  std::vector<int> handed;
  // The header is written when the log opens, so a full device fails the call before any job
  // is taken or handed over.
  EXPECT_THROW(rsp::receive_runspace_job(*pool, {.timeout = scaled(5s), .log_file = "/dev/full"},
                                         [&handed](rsp::ReceivedJob job) {
                                           if (!handed.empty()) {
                                             throw std::runtime_error("consumer failed");
                                           }
                                           handed.push_back(job.output_as<int>().at(0));
                                         }),
               std::system_error);
  EXPECT_TRUE(handed.empty());
  EXPECT_EQ(pool->registry().size(), 3u);
  auto rest = rsp::receive_runspace_job(*pool, {});
  EXPECT_EQ(rsp::outputs_as<int>(rest), (std::vector<int>{0, 1, 2}));
}
