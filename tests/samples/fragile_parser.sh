# fragile-parser over its demo files: with process isolation the two crashes are Failed jobs
# naming their signal, the hang is TimedOut, and the run ends with its summary and status 0; with
# thread isolation the first crash kills the whole program.
source "$(dirname "$0")/lib.sh"
parser=$(realpath "$1")
make_workdir
demo=$WORK/demo
cd "$WORK"

"$parser" --dir "$demo" --make-demo >make.txt 2>&1 || fail "--make-demo: status $?: $(<make.txt)"
[[ $(find "$demo" -type f | wc -l) == 20 ]] || fail "--make-demo: want 20 files in $demo"

# Process isolation: every file gets its line, bad ones included, then the summary.
start=$(now_ms)
timeout 30 "$parser" --dir "$demo" --isolation process --timeout 500 >out.txt 2>err.txt
status=$?
elapsed=$(($(now_ms) - start))
out=$(<out.txt)
((status == 0)) || fail "process isolation: status $status; stderr: $(<err.txt); stdout:"$'\n'"$out"
((elapsed < 15000)) || fail "process isolation took $elapsed ms: the hang was not cut short"
[[ $(grep -cE '^input-[0-9]{2}\.txt ' <<<"$out") == 20 ]] || fail "want 20 file lines in:"$'\n'"$out"
expect_contains "$out" "parsed 17, failed 2, timed out 1" "summary"
grep -qE '^input-05\.txt +Failed +.*killed by signal 11 \(SIGSEGV\)$' <<<"$out" ||
  fail "input-05 (!segv) should be Failed naming SIGSEGV:"$'\n'"$out"
grep -qE '^input-14\.txt +Failed +.*\(SIGABRT\)$' <<<"$out" ||
  fail "input-14 (!abort) should be Failed naming SIGABRT:"$'\n'"$out"
grep -qE '^input-09\.txt +TimedOut +timed out after 500 ms$' <<<"$out" ||
  fail "input-09 (!hang) should be TimedOut after 500 ms:"$'\n'"$out"
# input-N holds N records; their fields cycle 1, 2, 3, 4.
grep -qE '^input-01\.txt +Completed +1 record, 1 field$' <<<"$out" || fail "input-01:"$'\n'"$out"
grep -qE '^input-20\.txt +Completed +20 records, 50 fields$' <<<"$out" || fail "input-20:"$'\n'"$out"

# Thread isolation: the parser's crash is this program's crash. It never reaches its summary.
timeout 30 "$parser" --dir "$demo" --isolation thread --timeout 500 >out.txt 2>err.txt
status=$?
((status != 124)) || fail "thread isolation: still running after 30 s"
((status != 0)) || fail "thread isolation: exited 0, but a crashing input should kill it:"$'\n'"$(<out.txt)"
grep -q '^parsed ' out.txt && fail "thread isolation: reached its summary despite the crash:"$'\n'"$(<out.txt)"

# Usage errors: status 2.
"$parser" --dir "$demo" --isolation fibre >usage.txt 2>&1
(($? == 2)) || fail "bad --isolation: want status 2: $(<usage.txt)"
"$parser" >usage.txt 2>&1
(($? == 2)) || fail "no --dir: want status 2: $(<usage.txt)"
echo "fragile_parser: ok"
