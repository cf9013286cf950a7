// Registered scripts: the same object runs on a thread pool, and its entry in the process-wide
// table runs it in a worker from encoded inputs, in the same forms a thread pool supports.
#include "rsparallel/script.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <rsparallel/rsparallel.hpp>
#include <span>
#include <string>
#include <vector>

namespace {

// Namespace scope, as users register: the test binary's worker processes register them too.
const auto doubled =
    rsp::register_script("script_test.doubled", [](const int& x) { return 2 * x; });
const auto summed =
    rsp::register_script("script_test.summed", [](std::span<const int> xs, rsp::JobContext& ctx) {
      ctx.write_verbose("summing " + std::to_string(xs.size()));
      return std::accumulate(xs.begin(), xs.end(), 0);
    });
int shout_impl(std::string word, rsp::JobContext& ctx) {
  ctx.write_warning(word + "!");
  return static_cast<int>(word.size());
}
const auto shout = rsp::register_script("script_test.shout", &shout_impl);
// A generic lambda has no parameter to deduce Input from: it is named.
const auto generic =
    rsp::register_script<std::string>("script_test.generic", [](const auto& s) { return s + s; });

static_assert(std::is_same_v<decltype(doubled)::input_type, int>);
static_assert(std::is_same_v<decltype(summed)::input_type, int>);
static_assert(std::is_same_v<decltype(shout)::input_type, std::string>);
static_assert(std::is_same_v<decltype(generic)::input_type, std::string>);
static_assert(rsp::is_registered_script_v<std::decay_t<decltype(doubled)>>);
static_assert(!rsp::is_registered_script_v<int (*)(int)>);

// Collects what an entry writes, as a worker's channel sink would send it.
class CollectingSink final : public rsp::detail::ContextSink {
 public:
  rsp::JobId id() const noexcept override { return 1; }
  const std::string& name() const noexcept override { return name_; }
  std::size_t input_index() const noexcept override { return 0; }
  void write_output(std::any value) override { outputs.push_back(std::move(value)); }
  void write_error(std::string message) override { texts.push_back(message); }
  void write_text(rsp::detail::TextStream, std::string message) override {
    texts.push_back(message);
  }
  void write_progress(int, std::string) override {}
  rsp::JobContext& open(rsp::Runspace& runspace, std::stop_token token) {
    return context.emplace(key(), *this, runspace, std::move(token));
  }
  std::vector<std::any> outputs;
  std::vector<std::string> texts;
  std::optional<rsp::JobContext> context;

 private:
  std::string name_ = "test";
};

TEST(Script, CarriesItsNameAndCallsThrough) {
  EXPECT_EQ(doubled.name(), "script_test.doubled");
  EXPECT_EQ(doubled(21), 42);
  EXPECT_EQ(generic(std::string("ab")), "abab");
}

TEST(Script, RunsUnchangedOnAThreadPool) {
  auto pool = rsp::new_runspace_pool({.max_runspaces = 2});
  rsp::new_runspace_job(*pool, std::vector<int>{1, 2, 3}, doubled, {.name = "one"});
  rsp::new_runspace_job(*pool, std::vector<int>{1, 2, 3, 4}, summed,
                        {.name = "span", .slice_size = 4});
  auto one = rsp::receive_runspace_job(*pool, {.name = "one", .wait = true});
  std::vector<int> values = rsp::outputs_as<int>(one);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<int>{2, 4, 6}));
  auto span = rsp::receive_runspace_job(*pool, {.name = "span", .wait = true});
  ASSERT_EQ(span.size(), 1u);
  EXPECT_EQ(rsp::outputs_as<int>(span), (std::vector<int>{10}));
  EXPECT_EQ(span[0].verbose, (std::vector<std::string>{"summing 4"}));
}

TEST(Script, EntryDecodesInputsAndRunsAnItemScriptPerInput) {
  CollectingSink sink;
  rsp::Runspace runspace(0, {});
  std::vector<std::string> words{"hey", "yo"};
  rsp::detail::find_script("script_test.shout")
      .run(rsp::detail::encode_inputs<std::string>(words), 2, sink.open(runspace, {}));
  ASSERT_EQ(sink.outputs.size(), 2u);
  EXPECT_EQ(std::any_cast<int>(sink.outputs[0]), 3);
  EXPECT_EQ(std::any_cast<int>(sink.outputs[1]), 2);
  EXPECT_EQ(sink.texts, (std::vector<std::string>{"hey!", "yo!"}));
}

TEST(Script, EntryRunsASpanScriptOnceOverTheSlice) {
  CollectingSink sink;
  rsp::Runspace runspace(0, {});
  std::vector<int> xs{5, 6, 7};
  rsp::detail::find_script("script_test.summed")
      .run(rsp::detail::encode_inputs<int>(xs), 3, sink.open(runspace, {}));
  ASSERT_EQ(sink.outputs.size(), 1u);
  EXPECT_EQ(std::any_cast<int>(sink.outputs[0]), 18);
}

TEST(Script, EntryStopsBetweenInputsOnceStopped) {
  CollectingSink sink;
  rsp::Runspace runspace(0, {});
  std::stop_source stop;
  stop.request_stop();
  std::vector<int> xs{1, 2};
  EXPECT_THROW(
      rsp::detail::find_script("script_test.doubled")
          .run(rsp::detail::encode_inputs<int>(xs), 2, sink.open(runspace, stop.get_token())),
      rsp::JobStopped);
  EXPECT_TRUE(sink.outputs.empty());
}

TEST(Script, DuplicateNameIsRefusedByName) {
  try {
    rsp::register_script("script_test.doubled", [](const int& x) { return x; });
    FAIL() << "a duplicate name was registered";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'script_test.doubled'"), std::string::npos) << e.what();
  }
}

TEST(Script, UnknownNameIsRefusedByName) {
  try {
    rsp::detail::find_script("script_test.nobody");
    FAIL() << "an unknown name was found";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'script_test.nobody'"), std::string::npos) << e.what();
  }
}

const auto count_opens = rsp::register_session_hook(
    "script_test.count_opens", [](rsp::Runspace& rs) { rs.state() = std::string("opened"); });

TEST(SessionHook, CarriesItsNameAndRunsAsAnyHookOnAThreadPool) {
  EXPECT_EQ(count_opens.name(), "script_test.count_opens");
  rsp::PoolOptions options{.max_runspaces = 2};
  options.session.open = count_opens;
  auto pool = rsp::new_runspace_pool(std::move(options));
  auto jobs = rsp::invoke_parallel(std::vector<int>{1, 2, 3},
                                   [](const int&, rsp::JobContext& ctx) {
                                     return std::any_cast<std::string>(ctx.runspace().state());
                                   },
                                   {.pool = pool});
  EXPECT_EQ(rsp::outputs_as<std::string>(jobs),
            (std::vector<std::string>{"opened", "opened", "opened"}));
}

TEST(SessionHook, DuplicateOrEmptyIsRefusedByName) {
  try {
    rsp::register_session_hook("script_test.count_opens", [](rsp::Runspace&) {});
    FAIL() << "a duplicate hook name was registered";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'script_test.count_opens'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(rsp::register_session_hook("script_test.empty", {}), std::invalid_argument);
  try {
    rsp::detail::find_session_hook("script_test.nobody");
    FAIL() << "an unknown hook was found";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'script_test.nobody'"), std::string::npos) << e.what();
  }
}

}  // namespace
