// Not for users: an std::istream over bytes already in memory, so that decoding an archive
// does not copy them into a std::string first.
#pragma once

#include <cstddef>
#include <istream>
#include <streambuf>
#include <string_view>

namespace rsp::detail {

class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());  // read-only: no put area is ever set
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Thread Safety: a plain stream. Distinct objects: safe. Shared objects: unsafe.
class MemoryStream : public std::istream {
 public:
  explicit MemoryStream(std::string_view bytes) : std::istream(nullptr), buffer_(bytes) {
    rdbuf(&buffer_);
  }
  std::size_t remaining() const noexcept { return buffer_.remaining(); }
  bool at_end() const noexcept { return remaining() == 0; }

 private:
  MemoryBuffer buffer_;
};

}  // namespace rsp::detail
