# Checks that no internal header includes a component's public header. The internal headers
# (lib/**/*.hpp and include/rsparallel/detail/*.hpp) may include rsparallel/options.hpp and the
# other headers that declare no call (job.hpp, job_context.hpp, runspace.hpp), and those may not
# include a component either, so that the rule holds through them too. A component header is
# one that declares a call: runspace_pool.hpp, runspace_job.hpp, receive_job.hpp,
# clear_jobs.hpp, job_registry.hpp, invoke_parallel.hpp, parallel_map.hpp (and rsparallel.hpp,
# which includes them all). Fails naming each offending line.
#
#   cmake -DSOURCE_DIR=<repository root> -P cmake/check-internal-includes.cmake
cmake_minimum_required(VERSION 3.20)
if(NOT SOURCE_DIR)
  get_filename_component(SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()
file(REAL_PATH "${SOURCE_DIR}" root)

set(components runspace_pool runspace_job receive_job clear_jobs job_registry invoke_parallel
               parallel_map rsparallel)
list(JOIN components "|" component_pattern)

file(GLOB_RECURSE checked_files "${root}/lib/*.hpp" "${root}/include/rsparallel/detail/*.hpp")
foreach(name IN ITEMS options job job_context runspace)
  list(APPEND checked_files "${root}/include/rsparallel/${name}.hpp")
endforeach()

set(offending "")
set(checked 0)
foreach(file IN LISTS checked_files)
  if(NOT EXISTS "${file}")
    list(APPEND offending "${file} is missing")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  file(RELATIVE_PATH shown "${root}" "${file}")
  file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "[\"<]rsparallel/(${component_pattern})\\.hpp[\">]")
      string(STRIP "${line}" line)
      list(APPEND offending "${shown}: ${line}")
    endif()
  endforeach()
endforeach()

if(checked LESS 10)
  message(FATAL_ERROR "only ${checked} headers found under ${root}: wrong SOURCE_DIR?")
endif()
if(offending)
  list(JOIN offending "\n  " offending_text)
  message(FATAL_ERROR "internal headers include a component's public header (include "
                      "rsparallel/options.hpp instead):\n  ${offending_text}")
endif()
message(STATUS "${checked} internal headers include no component header")
