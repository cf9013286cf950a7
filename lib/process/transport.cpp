#include "process/transport.hpp"

#include <sys/socket.h>
#include <unistd.h>

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
  std::lock_guard lock(send_mutex_);
  // Header and body as one scatter write where possible; the loop finishes partial writes.
  const char* parts[2] = {header.data(), message.data()};
  std::size_t sizes[2] = {header.size(), message.size()};
  for (int part = 0; part < 2; ++part) {
    std::size_t done = 0;
    while (done < sizes[part]) {
      ssize_t n = ::send(fd_, parts[part] + done, sizes[part] - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("send");
      }
      done += static_cast<std::size_t>(n);
    }
  }
}

bool SocketTransport::read_exact(char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::recv(fd_, data + done, size - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A reset peer (it died with unread data queued) is an end of stream like any other.
      if (errno == ECONNRESET && done == 0) return false;
      throw_errno("recv");
    }
    if (n == 0) {
      if (done == 0) return false;
      throw TransportError("rsp: worker channel: the stream ended inside a message");
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> SocketTransport::receive() {
  std::array<unsigned char, 4> header{};
  if (!read_exact(reinterpret_cast<char*>(header.data()), header.size())) return std::nullopt;
  std::uint32_t size = 0;
  for (std::size_t i = 0; i < header.size(); ++i) size |= std::uint32_t{header[i]} << (8 * i);
  if (size > kMaxFrame) throw TransportError(frame_too_large(size));
  std::string message(size, '\0');
  if (size > 0 && !read_exact(message.data(), size)) {
    throw TransportError("rsp: worker channel: the stream ended inside a message");
  }
  return message;
}

void SocketTransport::close() noexcept {
  // shutdown, not close: another thread may be inside recv on this descriptor, and a closed
  // number could be reused under it. The destructor closes.
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace rsp::process
