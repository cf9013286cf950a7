# CTest cases that check a misuse stops the compiler with the library's own message rather than
# a page of template errors. Each compiles one file of tests/compile_fail/ with -fsyntax-only
# (about 2 s), expecting the message, and compiles it again with RSP_COMPILE_FAIL_CONTROL
# defined, expecting success, so that the failure is the one meant and not a broken include.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(compile_fail_includes ${PROJECT_SOURCE_DIR}/include ${Boost_INCLUDE_DIRS})
  list(JOIN compile_fail_includes "|" compile_fail_includes)

  # rsparallel_compile_fail(name message [COMPILER c] [INCLUDES a|b] [FLAGS x|y])
  function(rsparallel_compile_fail name message)
    cmake_parse_arguments(arg "" "COMPILER;INCLUDES;FLAGS" "" ${ARGN})
    if(NOT arg_COMPILER)
      set(arg_COMPILER ${CMAKE_CXX_COMPILER})
    endif()
    if(NOT arg_INCLUDES)
      set(arg_INCLUDES ${compile_fail_includes})
    endif()
    add_test(NAME compile_fail.${name}
             COMMAND ${CMAKE_COMMAND}
                     -DCOMPILER=${arg_COMPILER}
                     -DINCLUDES=${arg_INCLUDES}
                     -DFLAGS=${arg_FLAGS}
                     -DSOURCE=${CMAKE_CURRENT_LIST_DIR}/compile_fail/${name}.cpp
                     "-DMESSAGE=${message}"
                     -P ${CMAKE_CURRENT_LIST_DIR}/compile_fail/check.cmake)
    set_tests_properties(compile_fail.${name} PROPERTIES TIMEOUT 120 LABELS compile_fail)
  endfunction()

  rsparallel_compile_fail(uncopyable_lvalue_inputs
    "the inputs are copied per job from an lvalue range")
endif()

# The library's lock annotations (lib/detail/mutex.hpp) are checked by Clang; this case shows the
# check is live: an unguarded read of a guarded field must stop Clang. Needs clang++ (installed
# by cmake/install-deps.sh), whatever compiler builds the tests.
find_program(RSPARALLEL_CLANGXX NAMES clang++ clang++-14)
if(RSPARALLEL_CLANGXX)
  rsparallel_compile_fail(unguarded_field "requires holding mutex 'mutex_'"
    COMPILER ${RSPARALLEL_CLANGXX}
    INCLUDES ${PROJECT_SOURCE_DIR}/lib
    FLAGS "-Wthread-safety|-Werror")
else()
  message(WARNING "clang++ not found: compile_fail.unguarded_field (lock annotations) is off; "
                  "bash cmake/install-deps.sh installs it")
endif()
