// A JobContext made on a sink (as a worker process makes them) sends every write there, with
// the same text ownership and progress clamping a thread pool's context applies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rsparallel/job_context.hpp"

namespace {

class RecordingSink final : public rsp::detail::ContextSink {
 public:
  rsp::JobId id() const noexcept override { return 17; }
  const std::string& name() const noexcept override { return name_; }
  std::size_t input_index() const noexcept override { return 4; }
  void write_output(std::any value) override { outputs.push_back(std::move(value)); }
  void write_error(std::string message) override { writes.push_back("error:" + message); }
  void write_text(rsp::detail::TextStream stream, std::string message) override {
    writes.push_back(std::to_string(static_cast<int>(stream)) + ":" + message);
  }
  void write_progress(int percent, std::string status) override {
    writes.push_back("progress:" + std::to_string(percent) + ":" + status);
  }

  rsp::JobContext& open(rsp::Runspace& runspace, std::stop_token token) {
    return context.emplace(key(), *this, runspace, std::move(token));
  }

  std::vector<std::any> outputs;
  std::vector<std::string> writes;
  std::optional<rsp::JobContext> context;

 private:
  std::string name_ = "batch";
};

TEST(ContextSink, EveryWriteGoesToTheSink) {
  RecordingSink sink;
  rsp::Runspace runspace(2, {});
  std::stop_source stop;
  rsp::JobContext& ctx = sink.open(runspace, stop.get_token());
  EXPECT_EQ(ctx.id(), 17u);
  EXPECT_EQ(ctx.name(), "batch");
  EXPECT_EQ(ctx.input_index(), 4u);
  EXPECT_EQ(ctx.runspace().index(), 2u);

  char text[] = "owned";
  ctx.write_output(text);  // a char array decays to char*: kept as std::string
  ctx.write_output(5);
  ctx.write_error("e");
  ctx.write_warning("w");
  ctx.write_verbose("v");
  ctx.write_debug("d");
  ctx.write_information("i");
  ctx.write_progress(250, "over");
  ctx.write_progress(-3, "under");

  ASSERT_EQ(sink.outputs.size(), 2u);
  EXPECT_EQ(std::any_cast<std::string>(sink.outputs[0]), "owned");
  EXPECT_EQ(std::any_cast<int>(sink.outputs[1]), 5);
  EXPECT_EQ(sink.writes, (std::vector<std::string>{"error:e", "0:w", "1:v", "2:d", "3:i",
                                                   "progress:100:over", "progress:0:under"}));
}

TEST(ContextSink, CheckStopThrowsOnceStopped) {
  RecordingSink sink;
  rsp::Runspace runspace(0, {});
  std::stop_source stop;
  rsp::JobContext& ctx = sink.open(runspace, stop.get_token());
  EXPECT_NO_THROW(ctx.check_stop());
  stop.request_stop();
  EXPECT_TRUE(ctx.stop_requested());
  try {
    ctx.check_stop();
    FAIL() << "check_stop did not throw after a stop";
  } catch (const rsp::JobStopped& e) {
    EXPECT_NE(std::string(e.what()).find("17"), std::string::npos) << e.what();
  }
}

}  // namespace
