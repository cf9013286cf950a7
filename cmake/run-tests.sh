#!/usr/bin/env bash
# Builds and runs every test three times over: a normal build, then ThreadSanitizer, then
# AddressSanitizer+UBSan; and builds the library with Clang, whose thread-safety analysis checks
# every access to a field that says which mutex guards it, warnings as errors. (The tests are not
# built with Clang: Clang 14 cannot compile libstdc++ 12's std::views::iota, which they use.) The package-consumer cases (which rebuild the library from scratch) and
# the docs checks (Doxygen warnings, Markdown links) run in the normal build only. Tests whose
# dependencies are missing turn themselves off at configure time, with a warning; ctest fails
# when that leaves no test at all. Usage: bash cmake/run-tests.sh [normal|clang|thread|address]...
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"

run() {  # run <build dir> <ctest args> -- <cmake args>
  local dir=$1; shift
  local ctest_args=()
  while [[ $1 != -- ]]; do ctest_args+=("$1"); shift; done
  shift
  echo "== $dir"
  cmake -S . -B "$dir" "$@"
  cmake --build "$dir" -j"$jobs"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$jobs" "${ctest_args[@]}"
}

# Speed assertions (timeout lateness, a sample's timeout within 1.5 s) hold in the normal pass;
# a sanitizer slows everything several times over, so those two are left to the normal pass.
timing_only='Timeouts.LatenessUnderLoad|samples.rsparallel_run.timeout'

modes=("$@")
((${#modes[@]})) || modes=(normal clang thread address)
for mode in "${modes[@]}"; do
  case $mode in
    normal) run build -- ;;
    clang) echo "== build-clang"
           cmake -S . -B build-clang -DCMAKE_CXX_COMPILER=clang++ -DRSPARALLEL_WERROR=ON \
             -DRSPARALLEL_BUILD_TESTS=OFF -DRSPARALLEL_BUILD_SAMPLES=OFF \
             -DRSPARALLEL_BUILD_BENCHMARKS=OFF -DRSPARALLEL_BUILD_DOCS=OFF
           cmake --build build-clang -j"$jobs" ;;
    thread) run build-tsan -LE "package|docs" -E "$timing_only" -- -DCMAKE_BUILD_TYPE=RelWithDebInfo \
              -DRSPARALLEL_SANITIZE=thread -DRSPARALLEL_BUILD_BENCHMARKS=OFF ;;
    address) run build-asan -LE "package|docs" -E "$timing_only" -- -DCMAKE_BUILD_TYPE=RelWithDebInfo \
               "-DRSPARALLEL_SANITIZE=address;undefined" -DRSPARALLEL_BUILD_BENCHMARKS=OFF ;;
    *) echo "unknown mode '$mode' (normal, clang, thread or address)" >&2; exit 2 ;;
  esac
done
