# Builds tests/package/consumer against rsparallel and runs it; fails on any step.
#
#   cmake -DMODE=find_package|add_subdirectory|fetchcontent -DSOURCE_DIR=<rsparallel source>
#         -DWORK_DIR=<scratch dir> [-DGENERATOR=<generator>] [-DMAKE_PROGRAM=<path>]
#         [-DBUILD_TYPE=<config>] [-DCXX_COMPILER=<path>] [-DCXX_FLAGS=<flags>]
#         [-DSANITIZE=address,undefined] [-DPREFIX_PATH=<dir>|<dir>...] [-DBOOST_DIR=<dir>]
#         [-DJOBS=2] -P run_consumer.cmake
#
# find_package: configures, builds and installs rsparallel (tests, samples and benchmarks off)
# into WORK_DIR/prefix, then builds the consumer with CMAKE_PREFIX_PATH=WORK_DIR/prefix.
# add_subdirectory: builds the consumer with the source tree added as a subdirectory.
# fetchcontent: the same through FetchContent_Declare(SOURCE_DIR) and FetchContent_MakeAvailable.
# The consumer builds with -Wall -Wextra -Werror (see consumer/CMakeLists.txt). Then, in every
# mode, the consumer project is installed into WORK_DIR/user-prefix with its own library, which
# links rsparallel and is exported with install(EXPORT), and a second project (user_consumer/)
# finds that library there, which brings rsparallel along, and builds and runs a program on it.
# Lists are passed with ',' (SANITIZE) or '|' (PREFIX_PATH) so that ctest keeps them one argument.
cmake_minimum_required(VERSION 3.20)

foreach(required IN ITEMS MODE SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${required}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory|fetchcontent)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be find_package, add_subdirectory or "
                      "fetchcontent, not '${MODE}'")
endif()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()
if(NOT JOBS)
  set(JOBS 2)
endif()
set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/consumer")

# What every configure step shares (build type, compiler, flags, sanitizers, search paths) goes
# into an initial cache file (-C), which keeps lists such as "address;undefined" whole.
set(cache_text "")
function(cache_entry name value)
  string(APPEND cache_text "set(${name} [==[${value}]==] CACHE STRING \"\")\n")
  set(cache_text "${cache_text}" PARENT_SCOPE)
endfunction()
cache_entry(CMAKE_BUILD_TYPE "${BUILD_TYPE}")
if(CXX_COMPILER)
  cache_entry(CMAKE_CXX_COMPILER "${CXX_COMPILER}")
endif()
if(CXX_FLAGS)
  cache_entry(CMAKE_CXX_FLAGS "${CXX_FLAGS}")
endif()
if(MAKE_PROGRAM)
  cache_entry(CMAKE_MAKE_PROGRAM "${MAKE_PROGRAM}")
endif()
if(SANITIZE)
  string(REPLACE "," ";" sanitize_list "${SANITIZE}")
  cache_entry(RSPARALLEL_SANITIZE "${sanitize_list}")
endif()
if(BOOST_DIR)
  cache_entry(Boost_DIR "${BOOST_DIR}")
endif()
set(prefix_path "")
if(PREFIX_PATH)
  string(REPLACE "|" ";" prefix_path "${PREFIX_PATH}")
endif()
set(generator_args "")
if(GENERATOR)
  set(generator_args -G "${GENERATOR}")
endif()

function(run step)
  message(STATUS "[${MODE}] ${step}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result COMMAND_ECHO STDOUT)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${step} failed (${result})")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(consumer_args -DRSPARALLEL_CONSUMER_MODE=${MODE})
if(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  set(library_cache "${WORK_DIR}/rsparallel-init-cache.cmake")
  file(WRITE "${library_cache}" "${cache_text}")
  file(APPEND "${library_cache}" "set(CMAKE_PREFIX_PATH [==[${prefix_path}]==] CACHE STRING \"\")\n")
  run("configure rsparallel" "${CMAKE_COMMAND}" ${generator_args} -C "${library_cache}"
      -S "${SOURCE_DIR}" -B "${WORK_DIR}/rsparallel-build"
      "-DCMAKE_INSTALL_PREFIX=${prefix}"
      -DRSPARALLEL_BUILD_TESTS=OFF -DRSPARALLEL_BUILD_SAMPLES=OFF
      -DRSPARALLEL_BUILD_BENCHMARKS=OFF)
  run("build rsparallel" "${CMAKE_COMMAND}" --build "${WORK_DIR}/rsparallel-build"
      --config "${BUILD_TYPE}" --parallel ${JOBS})
  run("install rsparallel" "${CMAKE_COMMAND}" --install "${WORK_DIR}/rsparallel-build"
      --config "${BUILD_TYPE}")
  file(GLOB_RECURSE config_files "${prefix}/*/rsparallelConfig.cmake")
  if(NOT config_files)
    message(FATAL_ERROR "[${MODE}] no rsparallelConfig.cmake installed under ${prefix}")
  endif()
  if(NOT EXISTS "${prefix}/include/rsparallel/rsparallel.hpp")
    message(FATAL_ERROR "[${MODE}] the headers were not installed under ${prefix}/include")
  endif()
  # The consumer finds the package through this prefix only, never the source or build tree.
  list(PREPEND prefix_path "${prefix}")
  list(APPEND consumer_args -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
else()
  list(APPEND consumer_args "-DRSPARALLEL_SOURCE_DIR=${SOURCE_DIR}")
endif()

set(consumer_cache "${WORK_DIR}/consumer-init-cache.cmake")
file(WRITE "${consumer_cache}" "${cache_text}")
file(APPEND "${consumer_cache}" "set(CMAKE_PREFIX_PATH [==[${prefix_path}]==] CACHE STRING \"\")\n")
run("configure the consumer" "${CMAKE_COMMAND}" ${generator_args} -C "${consumer_cache}"
    -S "${consumer_dir}" -B "${WORK_DIR}/consumer-build" ${consumer_args})
if(MODE STREQUAL "find_package")
  file(STRINGS "${WORK_DIR}/consumer-build/CMakeCache.txt" found_dir REGEX "^rsparallel_DIR:")
  string(REGEX REPLACE "^rsparallel_DIR:[A-Z]+=" "" found_dir "${found_dir}")
  file(REAL_PATH "${prefix}" real_prefix)
  file(REAL_PATH "${found_dir}" real_found_dir)
  string(FIND "${real_found_dir}/" "${real_prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "[${MODE}] the consumer found rsparallel in '${found_dir}', not under ${prefix}")
  endif()
endif()
run("build the consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer-build"
    --config "${BUILD_TYPE}" --parallel ${JOBS})

set(program "${WORK_DIR}/consumer-build/bin/rsparallel_consumer")
if(NOT EXISTS "${program}" AND EXISTS "${program}.exe")
  set(program "${program}.exe")
endif()
run("run the consumer" "${program}")

# The consumer project's install: its library and, under add_subdirectory and FetchContent,
# rsparallel with it. A program outside finds the library there and builds on it.
set(user_prefix "${WORK_DIR}/user-prefix")
run("install the consumer project" "${CMAKE_COMMAND}" --install "${WORK_DIR}/consumer-build"
    --config "${BUILD_TYPE}" --prefix "${user_prefix}")
if(NOT MODE STREQUAL "find_package" AND NOT EXISTS "${user_prefix}/include/rsparallel/rsparallel.hpp")
  message(FATAL_ERROR "[${MODE}] the consumer's install did not install rsparallel beside its library")
endif()
set(user_prefix_path "${user_prefix}" ${prefix_path})
set(user_cache "${WORK_DIR}/user-consumer-init-cache.cmake")
file(WRITE "${user_cache}" "${cache_text}")
file(APPEND "${user_cache}" "set(CMAKE_PREFIX_PATH [==[${user_prefix_path}]==] CACHE STRING \"\")\n")
run("configure the user library's consumer" "${CMAKE_COMMAND}" ${generator_args} -C "${user_cache}"
    -S "${CMAKE_CURRENT_LIST_DIR}/user_consumer" -B "${WORK_DIR}/user-consumer-build"
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
if(NOT MODE STREQUAL "find_package")
  # rsparallel must come from the consumer's install, beside the library that needs it.
  file(STRINGS "${WORK_DIR}/user-consumer-build/CMakeCache.txt" found_dir REGEX "^rsparallel_DIR:")
  string(REGEX REPLACE "^rsparallel_DIR:[A-Z]+=" "" found_dir "${found_dir}")
  file(REAL_PATH "${user_prefix}" real_prefix)
  file(REAL_PATH "${found_dir}" real_found_dir)
  string(FIND "${real_found_dir}/" "${real_prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "[${MODE}] rsparallel was found in '${found_dir}', not under ${user_prefix}")
  endif()
endif()
run("build the user library's consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/user-consumer-build"
    --config "${BUILD_TYPE}" --parallel ${JOBS})
set(program "${WORK_DIR}/user-consumer-build/bin/rsparallel_user_consumer")
if(NOT EXISTS "${program}" AND EXISTS "${program}.exe")
  set(program "${program}.exe")
endif()
run("run the user library's consumer" "${program}")
