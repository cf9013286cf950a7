# CTest cases that run the sample programs (samples/) on small inputs and check what they print.
# The root adds samples/ after tests/, so the targets may not exist yet here: test the same
# condition the root uses. $<TARGET_FILE:...> is resolved at generate time, when they do.
if(TARGET rsparallel-run OR (RSPARALLEL_BUILD_SAMPLES AND EXISTS "${PROJECT_SOURCE_DIR}/samples/CMakeLists.txt"))
  find_program(RSPARALLEL_BASH bash REQUIRED)
  set(sample_scripts ${CMAKE_CURRENT_LIST_DIR}/samples)

  add_test(NAME samples.quickstart
           COMMAND ${RSPARALLEL_BASH} ${sample_scripts}/quickstart.sh $<TARGET_FILE:quickstart>)
  add_test(NAME samples.checksum
           COMMAND ${RSPARALLEL_BASH} ${sample_scripts}/checksum.sh $<TARGET_FILE:checksum>)
  add_test(NAME samples.fragile_parser
           COMMAND ${RSPARALLEL_BASH} ${sample_scripts}/fragile_parser.sh
                   $<TARGET_FILE:fragile-parser>)

  set(run_cases keep_order timeout failures substitution usage_errors no_interleave log
                slices starts_before_input_ends crlf_input)
  foreach(case IN LISTS run_cases)
    add_test(NAME samples.rsparallel_run.${case}
             COMMAND ${RSPARALLEL_BASH} ${sample_scripts}/rsparallel_run.sh
                     $<TARGET_FILE:rsparallel-run> ${case})
  endforeach()

  set(sample_tests samples.quickstart samples.checksum samples.fragile_parser)
  list(TRANSFORM run_cases PREPEND samples.rsparallel_run. OUTPUT_VARIABLE run_tests)
  set_tests_properties(${sample_tests} ${run_tests} PROPERTIES TIMEOUT 60 LABELS samples)
endif()
