# CTest cases that build an outside project (tests/package/consumer) against rsparallel the two
# ways a user would, and run it:
#   package_consumer          installs this project into a prefix under the build tree and
#                             finds it there with find_package(rsparallel CONFIG REQUIRED);
#   package_add_subdirectory  adds this source tree with add_subdirectory.
# Both build in scratch directories under the build tree with the same compiler, flags and
# sanitizers as this build; each takes a minute or more on two cores.

# Lists would be split into several arguments by add_test; the script turns them back.
string(REPLACE ";" "," _rsparallel_package_sanitize "${RSPARALLEL_SANITIZE}")
string(REPLACE ";" "|" _rsparallel_package_prefix_path "${CMAKE_PREFIX_PATH}")

foreach(_rsparallel_package_mode IN ITEMS find_package add_subdirectory)
  if(_rsparallel_package_mode STREQUAL "find_package")
    set(_rsparallel_package_test package_consumer)
  else()
    set(_rsparallel_package_test package_add_subdirectory)
  endif()
  add_test(NAME ${_rsparallel_package_test}
    COMMAND ${CMAKE_COMMAND}
      -DMODE=${_rsparallel_package_mode}
      "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
      "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package/${_rsparallel_package_mode}"
      "-DGENERATOR=${CMAKE_GENERATOR}"
      "-DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
      "-DBUILD_TYPE=$<CONFIG>"
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
