# CTest cases (label package) that build an outside project (tests/package/consumer) against
# rsparallel the three ways a user would, with -Wall -Wextra -Werror, and run it:
#   package_consumer          installs this project into a prefix under the build tree and
#                             finds it there with find_package(rsparallel CONFIG REQUIRED);
#   package_add_subdirectory  adds this source tree with add_subdirectory;
#   package_fetchcontent      the same through FetchContent.
# In each, the consumer's own library (which links rsparallel) is installed with install(EXPORT)
# and a second project (tests/package/user_consumer) builds and runs a program on it.
# They build in Release (what a consumer ships), in scratch directories under the build tree,
# with the same compiler, flags and sanitizers as this build; each takes a minute or more on two
# cores. package_minimal_configure configures this project as if only the library's own
# dependencies were installed: tests, samples and benchmarks must turn off, not fail.

# Lists would be split into several arguments by add_test; the script turns them back.
string(REPLACE ";" "," _rsparallel_package_sanitize "${RSPARALLEL_SANITIZE}")
string(REPLACE ";" "|" _rsparallel_package_prefix_path "${CMAKE_PREFIX_PATH}")

foreach(_rsparallel_package_mode IN ITEMS find_package add_subdirectory fetchcontent)
  if(_rsparallel_package_mode STREQUAL "find_package")
    set(_rsparallel_package_test package_consumer)
  else()
    set(_rsparallel_package_test package_${_rsparallel_package_mode})
  endif()
  add_test(NAME ${_rsparallel_package_test}
    COMMAND ${CMAKE_COMMAND}
      -DMODE=${_rsparallel_package_mode}
      "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
      "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package/${_rsparallel_package_mode}"
      "-DGENERATOR=${CMAKE_GENERATOR}"
      "-DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
      -DBUILD_TYPE=Release
      "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
      "-DCXX_FLAGS=${CMAKE_CXX_FLAGS}"
      "-DSANITIZE=${_rsparallel_package_sanitize}"
      "-DPREFIX_PATH=${_rsparallel_package_prefix_path}"
      "-DBOOST_DIR=${Boost_DIR}"
      -DJOBS=2
      -P ${CMAKE_CURRENT_LIST_DIR}/package/run_consumer.cmake)
  # Each one builds the library on both cores: run it alone, so that the load does not stretch
  # the timing of the tests beside it.
  set_tests_properties(${_rsparallel_package_test} PROPERTIES
    TIMEOUT 600
    LABELS package
    RUN_SERIAL TRUE)
endforeach()

add_test(NAME package_minimal_configure
  COMMAND ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR}
    -B ${CMAKE_CURRENT_BINARY_DIR}/package/minimal_configure --fresh
    -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_TBB=ON -DCMAKE_DISABLE_FIND_PACKAGE_boost_program_options=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_Doxygen=ON
    "-DBoost_DIR=${Boost_DIR}" "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
# Passing needs the configure to succeed and to say which parts it turned off.
set_tests_properties(package_minimal_configure PROPERTIES
  TIMEOUT 120
  LABELS package
  PASS_REGULAR_EXPRESSION "the tests are OFF.*the samples are OFF.*the benchmarks are OFF.*Build files have been written"
  FAIL_REGULAR_EXPRESSION "CMake Error")
