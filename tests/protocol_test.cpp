// Every worker message survives encoding, over a real socket, field for field; bytes that are
// not a message are a ProtocolError, never a crash or a half-filled message.
#include "process/protocol.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "process/transport.hpp"

namespace {

namespace proc = rsp::process;

TEST(Protocol, EveryMessageRoundTripsThroughASocket) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  proc::SocketTransport a(fds[0]), b(fds[1]);

  proc::Hello hello{.runspace_index = 3,
                    .variables = {{"greeting", std::string("\0hi", 3)}},
                    .open_hook = "connect",
                    .close_hook = "disconnect"};
  proc::Opened opened{
      .has_error = true, .error_message = "no db", .error_type = "std::runtime_error"};
  proc::Job job{.id = 42,
                .name = "hash",
                .input_index = 7,
                .script = "hash_file",
                .input_count = 2,
                .inputs = std::string("\x01\x02\0\x03", 4),
                .timeout_ms = 5000};
  proc::StreamRecord progress{
      .id = 42, .kind = proc::StreamKind::Progress, .percent = 55, .payload = "half"};
  proc::Finished finished{.id = 42,
                          .state = rsp::JobState::Failed,
                          .has_error = true,
                          .error_message = "boom",
                          .error_type = "std::runtime_error"};
  for (const proc::Message& m :
       {proc::Message(hello), proc::Message(job), proc::Message(progress), proc::Message(finished),
        proc::Message(proc::Stop{42}), proc::Message(proc::Bye{}), proc::Message(opened)}) {
    a.send(proc::encode(m));
  }

  auto next = [&] { return proc::decode(*b.receive()); };
  auto h = std::get<proc::Hello>(next());
  EXPECT_EQ(h.version, proc::kProtocolVersion);
  EXPECT_EQ(h.runspace_index, 3u);
  EXPECT_EQ(h.variables, hello.variables);
  EXPECT_EQ(h.open_hook, "connect");
  EXPECT_EQ(h.close_hook, "disconnect");
  auto j = std::get<proc::Job>(next());
  EXPECT_EQ(j.id, 42u);
  EXPECT_EQ(j.name, "hash");
  EXPECT_EQ(j.input_index, 7u);
  EXPECT_EQ(j.script, "hash_file");
  EXPECT_EQ(j.input_count, 2u);
  EXPECT_EQ(j.inputs, job.inputs);
  EXPECT_EQ(j.timeout_ms, 5000);
  auto p = std::get<proc::StreamRecord>(next());
  EXPECT_EQ(p.kind, proc::StreamKind::Progress);
  EXPECT_EQ(p.percent, 55);
  EXPECT_EQ(p.payload, "half");
  auto f = std::get<proc::Finished>(next());
  EXPECT_EQ(f.state, rsp::JobState::Failed);
  EXPECT_TRUE(f.has_error);
  EXPECT_EQ(f.error_message, "boom");
  EXPECT_EQ(f.error_type, "std::runtime_error");
  EXPECT_EQ(std::get<proc::Stop>(next()).id, 42u);
  EXPECT_TRUE(std::holds_alternative<proc::Bye>(next()));
  auto o = std::get<proc::Opened>(next());
  EXPECT_TRUE(o.has_error);
  EXPECT_EQ(o.error_message, "no db");
  EXPECT_EQ(o.error_type, "std::runtime_error");
}

TEST(Protocol, GarbageIsAProtocolError) {
  EXPECT_THROW(proc::decode(""), proc::ProtocolError);
  EXPECT_THROW(proc::decode("not a message at all"), proc::ProtocolError);
  std::string valid = proc::encode(proc::Stop{1});
  EXPECT_THROW(proc::decode(valid.substr(0, valid.size() - 1)), proc::ProtocolError);  // short
  EXPECT_THROW(proc::decode(valid + "x"), proc::ProtocolError);  // stray bytes after it
}

TEST(Protocol, AnEnumeratorOutOfRangeIsAProtocolError) {
  std::string bytes = proc::encode(proc::Finished{.id = 1, .state = rsp::JobState::TimedOut});
  // version (4 bytes), kind (1), id (8), then the state: one past the last JobState.
  bytes[13] = static_cast<char>(static_cast<int>(rsp::JobState::TimedOut) + 1);
  EXPECT_THROW(proc::decode(bytes), proc::ProtocolError);
}

TEST(Protocol, AnotherVersionIsRefusedByName) {
  std::string bytes = proc::encode(proc::Bye{});
  bytes[0] = static_cast<char>(bytes[0] + 1);  // the version comes first
  try {
    proc::decode(bytes);
    FAIL() << "a message of another protocol version decoded";
  } catch (const proc::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("protocol version"), std::string::npos) << e.what();
  }
}

}  // namespace
