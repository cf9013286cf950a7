// Encoding one std::any for the worker channel: a key naming its type, then the value, through
// the process-wide table of types that cross (crossing.hpp).
#pragma once

#include <any>
#include <string>
#include <string_view>

#include "rsparallel/crossing.hpp"

namespace rsp::process {

/// Bytes holding `value` and its type. An empty any encodes too (and decodes empty). A value
/// of a type not in the table throws std::invalid_argument naming the type.
std::string encode_value(const std::any& value);

/// The value encode_value wrote. A type this process has not registered throws
/// std::invalid_argument naming it; bytes that are not a value throw std::invalid_argument too.
std::any decode_value(std::string_view bytes);

}  // namespace rsp::process
