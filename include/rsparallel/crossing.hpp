// rsparallel: values that cross to worker processes. A process pool sends a job's inputs, and
// gets back its return value and write_output values, through Boost.Serialization; session
// variables go the same way. Strings, bool, every arithmetic type, and std::vector and std::map
// of those cross as they are; a type of your own crosses once registered.
//
// @code
//   struct Point {
//     double x = 0, y = 0;
//     template <class Archive>
//     void serialize(Archive& ar, unsigned /*version*/) { ar & x & y; }
//   };
//   // At namespace scope, so that the caller and its worker processes both register it.
//   inline const bool point_crosses = rsp::register_type<Point>();
// @endcode
#pragma once

#include <any>
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <cstddef>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "rsparallel/detail/memory_stream.hpp"
#include "rsparallel/detail/plain_bytes.hpp"

namespace rsp {

namespace detail {

/// Flags of every archive the library writes: both ends are the same executable, so no header.
inline constexpr unsigned kCrossingArchiveFlags =
    boost::archive::no_header | boost::archive::no_codecvt;

using SaveValue = void (*)(boost::archive::binary_oarchive&, const std::any&);
using LoadValue = std::any (*)(boost::archive::binary_iarchive&);

/// Adds a type to the process-wide table of types that cross; a type already there is kept.
void add_crossing_type(const std::type_info& type, SaveValue save, LoadValue load);

template <class T>
void save_value(boost::archive::binary_oarchive& out, const std::any& value) {
  out << std::any_cast<const T&>(value);
}

template <class T>
std::any load_value(boost::archive::binary_iarchive& in) {
  T value{};
  in >> value;
  return std::any(std::move(value));
}

/// `inputs` in order, as a process pool sends them for a job: plain bytes for plain types
/// (plain_bytes.hpp), else one archive.
template <class Input>
std::string encode_inputs(std::span<const Input> inputs) {
  if constexpr (is_plain_v<Input>) {
    std::string bytes;
    for (const Input& input : inputs) append_plain(bytes, input);
    return bytes;
  } else {
    std::ostringstream bytes;
    {
      boost::archive::binary_oarchive out(bytes, kCrossingArchiveFlags);
      for (const Input& input : inputs) out << input;
    }
    return std::move(bytes).str();
  }
}

/// The `count` inputs encode_inputs wrote. Throws a std::exception (std::invalid_argument, or
/// what Boost.Serialization throws) for bytes that do not hold them.
template <class Input>
std::vector<Input> decode_inputs(std::string_view bytes, std::size_t count) {
  std::vector<Input> inputs;
  inputs.reserve(count);
  if constexpr (is_plain_v<Input>) {
    for (std::size_t i = 0; i < count; ++i) inputs.push_back(take_plain<Input>(bytes));
    if (!bytes.empty()) {
      throw std::invalid_argument("rsp: " + std::to_string(bytes.size()) +
                                  " stray bytes after a job's inputs");
    }
  } else {
    MemoryStream stream(bytes);
    boost::archive::binary_iarchive in(stream, kCrossingArchiveFlags);
    for (std::size_t i = 0; i < count; ++i) {
      Input input{};
      in >> input;
      inputs.push_back(std::move(input));
    }
  }
  return inputs;
}

}  // namespace detail

/// Lets values of T cross to and from worker processes (return values, write_output values,
/// session variables). T must be default-constructible, copyable, and serializable by
/// Boost.Serialization (a `serialize` member or free function). Registering a type twice is
/// harmless. Returns true, so that a namespace-scope constant can register it; register in code
/// that the worker processes run too (namespace scope is simplest: a worker is the same program
/// started again, and it never reaches the caller's main past rsp::run_as_worker).
///
/// Thread Safety: safe from any thread, also while values are being encoded.
template <class T>
bool register_type() {
  detail::add_crossing_type(typeid(T), &detail::save_value<T>, &detail::load_value<T>);
  return true;
}

/// Whether values of this type can cross: built in, or registered with register_type.
///
/// Thread Safety: safe from any thread.
bool can_cross(const std::type_info& type);

}  // namespace rsp
