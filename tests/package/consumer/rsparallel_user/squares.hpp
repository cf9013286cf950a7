// A user library built on rsparallel, installed and exported with install(EXPORT) by the
// consumer project: what a project that wraps rsparallel for its own users does.
#pragma once

#include <string>
#include <vector>

#include <rsparallel/rsparallel.hpp>

namespace rsparallel_user {

/// The squares of 1..count, computed by rsparallel jobs on a pool of `runspaces`.
std::vector<long long> squares(int count, std::size_t runspaces);

/// The rsparallel version the library was built against.
std::string built_against();

}  // namespace rsparallel_user
