# cmake -DCOMPILER=... -DINCLUDES=a|b [-DFLAGS=c|d] -DSOURCE=x.cpp -DMESSAGE=... -P check.cmake
# Fails unless SOURCE does not compile and the compiler's output holds MESSAGE, and SOURCE does
# compile with RSP_COMPILE_FAIL_CONTROL defined. One error only: no cascade after the message.
string(REPLACE "|" ";" includes "${INCLUDES}")
set(flags -std=c++20 -fsyntax-only)
if(FLAGS)
  string(REPLACE "|" ";" extra "${FLAGS}")
  list(APPEND flags ${extra})
endif()
foreach(dir IN LISTS includes)
  list(APPEND flags -I${dir})
endforeach()

execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but must not")
endif()
string(FIND "${out}" "${MESSAGE}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile without the message '${MESSAGE}':\n${out}")
endif()
string(REGEX MATCHALL "error:" errors "${out}")
list(LENGTH errors error_count)
# The message alone, not followed by a cascade of errors from inside the library.
if(error_count GREATER 1)
  message(FATAL_ERROR "${SOURCE}: ${error_count} errors where the one message was expected:\n${out}")
endif()

execute_process(COMMAND ${COMPILER} ${flags} -DRSP_COMPILE_FAIL_CONTROL ${SOURCE}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} with RSP_COMPILE_FAIL_CONTROL must compile:\n${out}")
endif()
