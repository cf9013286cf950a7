// rsparallel: the library's version.
#pragma once

#define RSPARALLEL_VERSION_MAJOR 0
#define RSPARALLEL_VERSION_MINOR 1
#define RSPARALLEL_VERSION_PATCH 0

namespace rsp {
/// "MAJOR.MINOR.PATCH" of the library this program was built against.
inline constexpr const char* version = "0.1.0";
}  // namespace rsp
