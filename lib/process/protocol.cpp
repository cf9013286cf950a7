#include "process/protocol.hpp"

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <sstream>

#include "rsparallel/detail/memory_stream.hpp"

namespace boost::serialization {

// Free serialize functions keep the message structs plain aggregates.
template <class Archive>
void serialize(Archive& ar, rsp::process::Hello& m, unsigned) {
  ar& m.version& m.runspace_index& m.variables;
}
template <class Archive>
void serialize(Archive& ar, rsp::process::Job& m, unsigned) {
  ar& m.id& m.name& m.input_index& m.script& m.input_count& m.inputs& m.timeout_ms;
}
template <class Archive>
void serialize(Archive& ar, rsp::process::Started& m, unsigned) {
  ar& m.id;
}
template <class Archive>
void serialize(Archive& ar, rsp::process::StreamRecord& m, unsigned) {
  ar& m.id& m.kind& m.percent& m.payload;
}
template <class Archive>
void serialize(Archive& ar, rsp::process::Finished& m, unsigned) {
  ar& m.id& m.state& m.has_error& m.error_message& m.error_type;
}
template <class Archive>
void serialize(Archive& ar, rsp::process::Stop& m, unsigned) {
  ar& m.id;
}
template <class Archive>
void serialize(Archive&, rsp::process::Bye&, unsigned) {}

}  // namespace boost::serialization

namespace rsp::process {

namespace {

constexpr unsigned kArchiveFlags = boost::archive::no_header | boost::archive::no_codecvt;

template <std::size_t I = 0>
Message load_alternative(boost::archive::binary_iarchive& in, std::size_t index) {
  if constexpr (I < std::variant_size_v<Message>) {
    if (index == I) {
      std::variant_alternative_t<I, Message> value;
      in >> value;
      return value;
    }
    return load_alternative<I + 1>(in, index);
  } else {
    throw ProtocolError("rsp: worker channel: unknown message kind " + std::to_string(index));
  }
}

}  // namespace

std::string encode(const Message& message) {
  std::ostringstream bytes;
  {
    boost::archive::binary_oarchive out(bytes, kArchiveFlags);
    std::uint32_t version = kProtocolVersion;
    auto index = static_cast<std::uint8_t>(message.index());
    out << version << index;
    std::visit([&](const auto& value) { out << value; }, message);
  }
  return std::move(bytes).str();
}

Message decode(std::string_view bytes) {
  detail::MemoryStream stream(bytes);
  try {
    boost::archive::binary_iarchive in(stream, kArchiveFlags);
    std::uint32_t version = 0;
    std::uint8_t index = 0;
    in >> version >> index;
    if (version != kProtocolVersion) {
      throw ProtocolError("rsp: worker channel: protocol version " + std::to_string(version) +
                          ", expected " + std::to_string(kProtocolVersion));
    }
    Message message = load_alternative(in, index);
    if (!stream.at_end()) {
      throw ProtocolError("rsp: worker channel: " + std::to_string(stream.remaining()) +
                          " stray bytes after a " + std::string(message_name(message)) +
                          " message");
    }
    return message;
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {  // archive_exception, bad_alloc from a corrupt length
    throw ProtocolError(std::string("rsp: worker channel: a message does not decode: ") + e.what());
  }
}

std::string_view message_name(const Message& message) noexcept {
  static constexpr std::string_view kNames[] = {"Hello",    "Job",  "Started", "StreamRecord",
                                                "Finished", "Stop", "Bye"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[message.index()];
}

}  // namespace rsp::process
