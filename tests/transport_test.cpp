// The worker channel: whole messages over a socketpair, in order, with the ends of stream and
// the failures a dying peer causes reported rather than fatal.
#include "process/transport.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "process/protocol.hpp"

namespace {

using rsp::process::SocketTransport;
using rsp::process::TransportError;

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = std::make_unique<SocketTransport>(fds[0]);
    b = std::make_unique<SocketTransport>(fds[1]);
  }
  std::unique_ptr<SocketTransport> a, b;
};

TEST(SocketTransport, MessagesArriveWholeAndInOrder) {
  Pair pair;
  std::string big(3 << 20, 'x');  // larger than a socket buffer: partial writes are finished
  big[12345] = '\0';              // bytes, not C strings
  std::thread writer([&] {
    pair.a->send("first");
    pair.a->send("");
    pair.a->send(big);
    pair.a->close();
  });
  EXPECT_EQ(pair.b->receive(), std::optional<std::string>("first"));
  EXPECT_EQ(pair.b->receive(), std::optional<std::string>(""));
  EXPECT_EQ(pair.b->receive(), std::optional<std::string>(big));
  EXPECT_EQ(pair.b->receive(), std::nullopt);  // clean end of stream
  writer.join();
}

TEST(SocketTransport, FramesReadInOneGoComeOutOneByOne) {
  // Small frames sent before the reader looks arrive in one read; a large one between them
  // grows the reader's buffer, and the frames after it still come whole.
  Pair pair;
  std::string big(1 << 20, 'b');
  // Few enough to fit the socket's buffer (each frame costs it far more than its bytes).
  for (int i = 0; i < 50; ++i) pair.a->send("small " + std::to_string(i));
  std::thread writer([&] {
    for (int i = 50; i < 500; ++i) pair.a->send("small " + std::to_string(i));
    pair.a->send(big);
    for (int i = 500; i < 1000; ++i) pair.a->send("small " + std::to_string(i));
    pair.a->close();
  });
  for (int i = 0; i < 500; ++i) ASSERT_EQ(pair.b->receive(), "small " + std::to_string(i));
  EXPECT_EQ(pair.b->receive(), std::optional<std::string>(big));
  for (int i = 500; i < 1000; ++i) ASSERT_EQ(pair.b->receive(), "small " + std::to_string(i));
  EXPECT_EQ(pair.b->receive(), std::nullopt);
  writer.join();
}

TEST(SocketTransport, ConcurrentSendersNeverInterleaveFrames) {
  Pair pair;
  constexpr int kPerThread = 200;
  std::vector<std::thread> writers;
  for (char c : {'a', 'b', 'c'}) {
    writers.emplace_back([&, c] {
      for (int i = 0; i < kPerThread; ++i) pair.a->send(std::string(1000 + i, c));
    });
  }
  int seen = 0;
  std::thread reader([&] {
    while (auto message = pair.b->receive()) {
      ASSERT_FALSE(message->empty());
      EXPECT_EQ(message->find_first_not_of(message->front()), std::string::npos);
      ++seen;
    }
  });
  for (auto& writer : writers) writer.join();
  pair.a->close();
  reader.join();
  EXPECT_EQ(seen, 3 * kPerThread);
}

TEST(SocketTransport, SendToAVanishedPeerThrowsInsteadOfRaisingSigpipe) {
  Pair pair;
  pair.b.reset();  // closes the other end
  EXPECT_THROW(
      {
        for (int i = 0; i < 100; ++i) pair.a->send("anyone there?");
      },
      TransportError);
}

TEST(SocketTransport, StreamEndingInsideAMessageIsAnError) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  SocketTransport reader(fds[0]);
  const char partial[] = {10, 0, 0, 0, 'a', 'b'};  // says 10 bytes, sends 2
  ASSERT_EQ(::write(fds[1], partial, sizeof partial), static_cast<ssize_t>(sizeof partial));
  ::close(fds[1]);
  EXPECT_THROW(reader.receive(), TransportError);
}

TEST(SocketTransport, FrameOverTheLimitIsAClearErrorBothWays) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  SocketTransport reader(fds[0]);
  const unsigned char huge[] = {0xFF, 0xFF, 0xFF, 0xFF};
  ASSERT_EQ(::write(fds[1], huge, sizeof huge), 4);
  try {
    reader.receive();
    FAIL() << "a 4 GiB frame was accepted";
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("frame limit"), std::string::npos) << e.what();
  }
  SocketTransport writer(fds[1]);
  std::string too_big(SocketTransport::kMaxFrame + 1, 'x');
  EXPECT_THROW(writer.send(too_big), TransportError);
}

TEST(SocketTransport, CloseWakesABlockedReceive) {
  Pair pair;
  std::thread reader([&] { EXPECT_EQ(pair.b->receive(), std::nullopt); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pair.b->close();
  reader.join();
}

}  // namespace
