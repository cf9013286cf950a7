#!/usr/bin/env bash
# Runs the rsparallel benchmark suite (builds nothing) and prints its summary table: the ratios of
# every case to its baseline, PASS/FAIL per target.
#
#   tests/bench/run.sh [BINARY] [flags...]
#
# BINARY defaults to $RSPARALLEL_BENCH, else build-bench/ or build/ under the repository. Flags go
# to the binary: --inputs=N, --reps=R, --strict, and any --benchmark_* flag (e.g.
# --benchmark_filter=TrivialJobs). The full output is also kept in bench-<date>.log and the
# per-run figures in bench-<date>.json, in the current directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bin="${RSPARALLEL_BENCH:-}"
if [[ $# -gt 0 && -x "$1" && ! -d "$1" ]]; then
  bin="$1"
  shift
fi
if [[ -z "$bin" ]]; then
  for dir in "$repo/build-bench" "$repo/build"; do
    if [[ -x "$dir/tests/bench/rsparallel_bench" ]]; then
      bin="$dir/tests/bench/rsparallel_bench"
      break
    fi
  done
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "run.sh: no rsparallel_bench binary; build one first, in Release:" >&2
  echo "  cmake -S $repo -B $repo/build-bench -DCMAKE_BUILD_TYPE=Release" >&2
  echo "  cmake --build $repo/build-bench -j2 --target rsparallel_bench" >&2
  exit 2
fi

stamp="$(date +%Y%m%d-%H%M%S)"
echo "run.sh: $bin on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" --benchmark_out="bench-$stamp.json" --benchmark_out_format=json "$@" 2>&1 |
  tee "bench-$stamp.log"
exit "${PIPESTATUS[0]}"
