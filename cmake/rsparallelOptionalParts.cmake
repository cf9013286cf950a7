# rsparallel_require_for(<option> <what> <debian packages> <find_package arguments>...)
#
# When <option> is on, looks for each dependency (one quoted find_package argument list each,
# found QUIET). If one is missing, turns <option> off for this configure run and says so in a
# warning naming what is missing and the Debian packages that bring it. The cache keeps the
# user's choice, so the part comes back on its own once its dependencies are installed.
function(rsparallel_require_for option what packages)
  if(NOT ${option})
    return()
  endif()
  set(missing "")
  foreach(spec IN LISTS ARGN)
    separate_arguments(args UNIX_COMMAND "${spec}")
    list(GET args 0 name)
    find_package(${args} QUIET)
    if(NOT ${name}_FOUND)
      list(APPEND missing "${spec}")
    endif()
  endforeach()
  if(missing)
    list(JOIN missing ", " missing_text)
    message(WARNING
      "rsparallel: ${what} are OFF: not found: ${missing_text}. The library itself does not "
      "need them. To build ${what}, install the Debian packages ${packages} "
      "(`bash cmake/install-deps.sh` installs every one) and configure again; to silence this, "
      "configure with -D${option}=OFF.")
    set(${option} OFF PARENT_SCOPE)
  endif()
endfunction()
