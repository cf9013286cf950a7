#include "process/protocol.hpp"

#include <cstring>
#include <type_traits>

namespace rsp::process {

// The envelope is written by hand, not by a Boost archive: every field is an integer or a
// string, and a Boost archive builds and destroys a std::locale each time it is made. With
// archives for the four envelopes of a job, locales took about a third of a process pool's CPU
// time (tests/bench/README.md, case 9). Values (inputs, outputs, variables) still cross as Boost
// archives: they are the user's types.
//
// Layout: u32 version, u8 kind (the Message index), then the fields in declaration order;
// integers little-endian, strings as a u32 length and their bytes.
namespace {

class Writer {
 public:
  template <class Int>
  void integer(Int value) {
    using U = std::make_unsigned_t<Int>;
    auto bits = static_cast<U>(value);
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFFu));
    }
  }
  void string(std::string_view text) {
    integer(static_cast<std::uint32_t>(text.size()));
    bytes_.append(text);
  }
  template <class Enum>
  void enumeration(Enum value) {
    integer(static_cast<std::uint8_t>(value));
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  template <class Int>
  Int integer() {
    using U = std::make_unsigned_t<Int>;
    std::string_view raw = take(sizeof(U));
    U bits = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      bits |= static_cast<U>(static_cast<unsigned char>(raw[i])) << (8 * i);
    }
    return static_cast<Int>(bits);
  }
  std::string string() { return std::string(take(integer<std::uint32_t>())); }
  template <class Enum>
  Enum enumeration(std::uint8_t last) {
    auto value = integer<std::uint8_t>();
    if (value > last) {
      throw ProtocolError("rsp: worker channel: a message does not decode: enumerator " +
                          std::to_string(value) + " out of range");
    }
    return static_cast<Enum>(value);
  }
  std::size_t remaining() const noexcept { return rest_.size(); }

 private:
  std::string_view take(std::size_t size) {
    if (size > rest_.size()) {
      throw ProtocolError("rsp: worker channel: a message does not decode: it ends " +
                          std::to_string(size - rest_.size()) + " bytes short");
    }
    std::string_view part = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return part;
  }

  std::string_view rest_;
};

void write(Writer& out, const Hello& m) {
  out.integer(m.version);
  out.integer(m.runspace_index);
  out.integer(static_cast<std::uint32_t>(m.variables.size()));
  for (const auto& [name, value] : m.variables) {
    out.string(name);
    out.string(value);
  }
  out.string(m.open_hook);
  out.string(m.close_hook);
}
void write(Writer& out, const Job& m) {
  out.integer(m.id);
  out.string(m.name);
  out.integer(m.input_index);
  out.string(m.script);
  out.integer(m.input_count);
  out.string(m.inputs);
  out.integer(m.timeout_ms);
}
void write(Writer& out, const StreamRecord& m) {
  out.integer(m.id);
  out.enumeration(m.kind);
  out.integer(m.percent);
  out.string(m.payload);
}
void write(Writer& out, const Finished& m) {
  out.integer(m.id);
  out.enumeration(m.state);
  out.integer(static_cast<std::uint8_t>(m.has_error));
  out.string(m.error_message);
  out.string(m.error_type);
}
void write(Writer& out, const Stop& m) { out.integer(m.id); }
void write(Writer&, const Bye&) {}
void write(Writer& out, const Opened& m) {
  out.integer(static_cast<std::uint8_t>(m.has_error));
  out.string(m.error_message);
  out.string(m.error_type);
}

void read(Reader& in, Hello& m) {
  m.version = in.integer<std::uint32_t>();
  m.runspace_index = in.integer<std::uint64_t>();
  auto count = in.integer<std::uint32_t>();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name = in.string();
    m.variables.emplace_back(std::move(name), in.string());
  }
  m.open_hook = in.string();
  m.close_hook = in.string();
}
void read(Reader& in, Job& m) {
  m.id = in.integer<JobId>();
  m.name = in.string();
  m.input_index = in.integer<std::uint64_t>();
  m.script = in.string();
  m.input_count = in.integer<std::uint64_t>();
  m.inputs = in.string();
  m.timeout_ms = in.integer<std::int64_t>();
}
void read(Reader& in, StreamRecord& m) {
  m.id = in.integer<JobId>();
  m.kind = in.enumeration<StreamKind>(static_cast<std::uint8_t>(StreamKind::Progress));
  m.percent = in.integer<std::int32_t>();
  m.payload = in.string();
}
void read(Reader& in, Finished& m) {
  m.id = in.integer<JobId>();
  m.state = in.enumeration<JobState>(static_cast<std::uint8_t>(JobState::TimedOut));
  m.has_error = in.integer<std::uint8_t>() != 0;
  m.error_message = in.string();
  m.error_type = in.string();
}
void read(Reader& in, Stop& m) { m.id = in.integer<JobId>(); }
void read(Reader&, Bye&) {}
void read(Reader& in, Opened& m) {
  m.has_error = in.integer<std::uint8_t>() != 0;
  m.error_message = in.string();
  m.error_type = in.string();
}

template <std::size_t I = 0>
Message read_alternative(Reader& in, std::size_t index) {
  if constexpr (I < std::variant_size_v<Message>) {
    if (index == I) {
      std::variant_alternative_t<I, Message> value;
      read(in, value);
      return value;
    }
    return read_alternative<I + 1>(in, index);
  } else {
    throw ProtocolError("rsp: worker channel: unknown message kind " + std::to_string(index));
  }
}

}  // namespace

std::string encode(const Message& message) {
  Writer out;
  out.integer(kProtocolVersion);
  out.integer(static_cast<std::uint8_t>(message.index()));
  std::visit([&](const auto& value) { write(out, value); }, message);
  return out.take();
}

Message decode(std::string_view bytes) {
  Reader in(bytes);
  auto version = in.integer<std::uint32_t>();
  if (version != kProtocolVersion) {
    throw ProtocolError("rsp: worker channel: protocol version " + std::to_string(version) +
                        ", expected " + std::to_string(kProtocolVersion));
  }
  Message message = read_alternative(in, in.integer<std::uint8_t>());
  if (in.remaining() != 0) {
    throw ProtocolError("rsp: worker channel: " + std::to_string(in.remaining()) +
                        " stray bytes after a " + std::string(message_name(message)) + " message");
  }
  return message;
}

std::string_view message_name(const Message& message) noexcept {
  static constexpr std::string_view kNames[] = {"Hello", "Job", "StreamRecord", "Finished",
                                                "Stop",  "Bye", "Opened"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[message.index()];
}

}  // namespace rsp::process
