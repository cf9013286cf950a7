#include "process/transport.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace rsp::process {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw TransportError(std::string("rsp: worker channel: ") + what + ": " +
                       std::system_category().message(errno));
}

std::string frame_too_large(std::size_t size) {
  return "rsp: worker channel: a message of " + std::to_string(size) +
         " bytes exceeds the frame limit of " + std::to_string(SocketTransport::kMaxFrame) +
         " bytes";
}

}  // namespace

SocketTransport::~SocketTransport() {
  if (fd_ >= 0) ::close(fd_);
}

void SocketTransport::send(std::string_view message) {
  if (message.size() > kMaxFrame) throw TransportError(frame_too_large(message.size()));
  std::array<char, 4> header{};
  auto size = static_cast<std::uint32_t>(message.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    header[i] = static_cast<char>((size >> (8 * i)) & 0xFFu);
  }
  detail::Lock lock(send_mutex_);
  // Header and body in one system call: the reader wakes once per frame, not twice.
  iovec parts[2] = {{header.data(), header.size()},
                    {const_cast<char*>(message.data()), message.size()}};
  std::size_t first = 0;
  while (first < 2) {
    msghdr out{};
    out.msg_iov = parts + first;
    out.msg_iovlen = 2 - first;
    ssize_t n = ::sendmsg(fd_, &out, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("send");
    }
    // A partial write: skip what went.
    auto sent = static_cast<std::size_t>(n);
    while (first < 2 && sent >= parts[first].iov_len) {
      sent -= parts[first].iov_len;
      ++first;
    }
    if (first < 2) {
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + sent;
      parts[first].iov_len -= sent;
    }
  }
}

bool SocketTransport::fill(std::size_t want) {
  if (begin_ > 0) {  // what is unread moves to the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  std::size_t room = std::max(want, kReadChunk);
  if (end_ == 0 && buffer_.size() > 4 * kReadChunk && room == kReadChunk) {
    buffer_ = std::string();  // a large frame's room is given back once it is read
  }
  if (buffer_.size() < room) buffer_.resize(room);
  for (;;) {
    ssize_t n = ::recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // A reset peer (it died with unread data queued) is an end of stream like any other.
      if (errno == ECONNRESET) return false;
      throw_errno("recv");
    }
    end_ += static_cast<std::size_t>(n);
    return n > 0;
  }
}

std::optional<std::string> SocketTransport::receive() {
  constexpr std::size_t kHeader = 4;
  auto ended = [&]() -> std::optional<std::string> {
    if (begin_ == end_) return std::nullopt;
    throw TransportError("rsp: worker channel: the stream ended inside a message");
  };
  while (end_ - begin_ < kHeader) {
    if (!fill(kHeader)) return ended();
  }
  std::uint32_t size = 0;
  for (std::size_t i = 0; i < kHeader; ++i) {
    size |= std::uint32_t{static_cast<unsigned char>(buffer_[begin_ + i])} << (8 * i);
  }
  if (size > kMaxFrame) throw TransportError(frame_too_large(size));
  while (end_ - begin_ < kHeader + size) {
    if (!fill(kHeader + size)) return ended();
  }
  std::string message(buffer_, begin_ + kHeader, size);
  begin_ += kHeader + size;
  if (begin_ == end_) begin_ = end_ = 0;
  return message;
}

void SocketTransport::close() noexcept {
  // shutdown, not close: another thread may be inside recv on this descriptor, and a closed
  // number could be reused under it. The destructor closes.
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace rsp::process
