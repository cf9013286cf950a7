# CTest cases that check a misuse stops the compiler with the library's own message rather than
# a page of template errors. Each compiles one file of tests/compile_fail/ with -fsyntax-only
# (about 2 s), expecting the message, and compiles it again with RSP_COMPILE_FAIL_CONTROL
# defined, expecting success, so that the failure is the one meant and not a broken include.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(compile_fail_includes ${PROJECT_SOURCE_DIR}/include ${Boost_INCLUDE_DIRS})
  list(JOIN compile_fail_includes "|" compile_fail_includes)

  function(rsparallel_compile_fail name message)
    add_test(NAME compile_fail.${name}
             COMMAND ${CMAKE_COMMAND}
                     -DCOMPILER=${CMAKE_CXX_COMPILER}
                     -DINCLUDES=${compile_fail_includes}
                     -DSOURCE=${CMAKE_CURRENT_LIST_DIR}/compile_fail/${name}.cpp
                     "-DMESSAGE=${message}"
                     -P ${CMAKE_CURRENT_LIST_DIR}/compile_fail/check.cmake)
    set_tests_properties(compile_fail.${name} PROPERTIES TIMEOUT 120 LABELS compile_fail)
  endfunction()

  rsparallel_compile_fail(uncopyable_lvalue_inputs
    "the inputs are copied per job from an lvalue range")
endif()
