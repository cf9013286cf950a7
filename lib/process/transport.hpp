// The byte channel between a pool and one worker process. The protocol never assumes a pipe:
// anything that carries whole messages in order (a socket here; a TCP link or a test double
// later) can be a Transport.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "detail/mutex.hpp"

namespace rsp::process {

/// The channel broke: the peer vanished mid-message, sent a frame over the limit, or the system
/// refused a read or write. The message names what happened.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Carries whole messages, in order, both ways.
///
/// Thread Safety: send may be called from several threads at once (a job's own threads write
/// too); receive from one thread at a time; close from any thread, also while another thread is
/// blocked in receive, which it then wakes.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends one message's bytes. Throws TransportError when the peer is gone or the message is
  /// over the frame limit.
  virtual void send(std::string_view message) = 0;
  /// The next message, waiting for it; nullopt at a clean end of stream (the peer closed between
  /// messages). A stream that ends mid-message throws TransportError.
  virtual std::optional<std::string> receive() = 0;
  /// Ends both directions: the peer sees end of stream and a blocked receive here returns.
  virtual void close() noexcept = 0;
};

/// A Transport over a connected stream socket (one end of a socketpair): each message is a
/// 4-byte little-endian length followed by that many bytes. Writes use MSG_NOSIGNAL, so a
/// vanished peer is a TransportError, never SIGPIPE; reads and writes retry on EINTR.
///
/// Thread Safety: as Transport. Distinct objects: safe.
class SocketTransport final : public Transport {
 public:
  /// Larger messages are refused by send and by receive alike.
  static constexpr std::size_t kMaxFrame = std::size_t{256} << 20;  // 256 MiB

  /// Takes ownership of `fd`, a connected SOCK_STREAM socket.
  explicit SocketTransport(int fd) noexcept : fd_(fd) {}
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  void send(std::string_view message) override;
  std::optional<std::string> receive() override;
  void close() noexcept override;

  int fd() const noexcept { return fd_; }

 private:
  // Reads what the socket has into buffer_, with room for `want` unread bytes; false at end of
  // stream.
  bool fill(std::size_t want);

  // One recv takes whatever is there, often several frames (a job's last output and its
  // Finished): a job's reply costs one system call and one wake-up, not two per frame.
  static constexpr std::size_t kReadChunk = 64 * 1024;

  int fd_;
  // One frame at a time, header and body together. Lock order: last (nothing is taken under it).
  detail::Mutex send_mutex_;
  // Only the receiving thread: bytes read and not yet returned are buffer_[begin_, end_).
  std::string buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace rsp::process
