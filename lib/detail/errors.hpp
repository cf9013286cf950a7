// Turning whatever a job threw into an error record. Declared in the public detail header, which
// parallel_map's per-input wrapper also uses.
#pragma once

#include "rsparallel/detail/describe_exception.hpp"
