# CTest case (label headers): no internal header (lib/, include/rsparallel/detail/) includes a
# component's public header such as rsparallel/runspace_pool.hpp; they include
# rsparallel/options.hpp for the option types instead. See cmake/check-internal-includes.cmake.
add_test(NAME headers.internal_includes
         COMMAND ${CMAKE_COMMAND} "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
                 -P ${PROJECT_SOURCE_DIR}/cmake/check-internal-includes.cmake)
set_tests_properties(headers.internal_includes PROPERTIES LABELS headers TIMEOUT 60)
