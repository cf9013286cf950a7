# CTest case (label docs): every relative link in the Markdown files (README.md, docs/, ...)
# resolves to a file inside the repository. The Doxygen case, docs.doxygen, is in docs/.
add_test(NAME docs.links
         COMMAND ${CMAKE_COMMAND} "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
                 -P ${PROJECT_SOURCE_DIR}/cmake/check-links.cmake)
set_tests_properties(docs.links PROPERTIES LABELS docs TIMEOUT 60)
