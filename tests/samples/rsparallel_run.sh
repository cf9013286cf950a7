# rsparallel-run, one behaviour per case: rsparallel_run.sh <path to rsparallel-run> <case>
source "$(dirname "$0")/lib.sh"
run=$(realpath "$1")
make_workdir
cd "$WORK"

case_keep_order() {
  # Later inputs finish first (sleep 0.0N), yet --keep-order prints in input order.
  local out
  out=$(seq 50 | "$run" -j 8 --keep-order --progress -- sh -c 'sleep 0.0$(( $1 % 5 )); echo $1' sh 2>err.txt) ||
    fail "status $?"
  [[ "$out" == "$(seq 50)" ]] || fail "not 1..50 in order:"$'\n'"$out"
  [[ ! -s err.txt ]] || fail "--progress drew on a stderr that is not a terminal: $(<err.txt)"
  # Input 1 is by far the slowest; without --keep-order it is printed last.
  out=$(seq 6 | "$run" -j 6 -- sh -c '[ $1 = 1 ] && sleep 0.5; echo $1' sh) || fail "status $?"
  [[ "$(sort -n <<<"$out")" == "$(seq 6)" ]] || fail "lost or duplicated outputs:"$'\n'"$out"
  [[ "$(tail -1 <<<"$out")" == 1 ]] || fail "without --keep-order the slow job should print last:"$'\n'"$out"
}

case_timeout() {
  local start elapsed status token
  start=$(now_ms)
  echo 1 | "$run" --timeout 200ms -- sleep 5 2>err.txt
  status=$?
  elapsed=$(($(now_ms) - start))
  ((status != 0)) || fail "a timed-out job must give a non-zero status"
  ((status == 1)) || fail "one timed-out job: want status 1, got $status"
  ((elapsed < 1500)) || fail "--timeout 200ms with 'sleep 5' took $elapsed ms"
  grep -q "timed out after 200 ms" err.txt || fail "no timeout message: $(<err.txt)"

  # The whole process group goes, grandchildren included; one ignoring SIGTERM gets SIGKILL.
  token="30.$$$RANDOM"
  start=$(now_ms)
  echo x | "$run" --timeout 0.2s -- sh -c "trap '' TERM; sleep $token; echo never" sh 2>err.txt >out.txt
  status=$?
  elapsed=$(($(now_ms) - start))
  ((status == 1)) || fail "SIGTERM-ignoring job: want status 1, got $status"
  ((elapsed < 3000)) || fail "SIGTERM-ignoring job took $elapsed ms (SIGKILL comes after 500 ms)"
  [[ ! -s out.txt ]] || fail "a timed-out job printed: $(<out.txt)"
  for _ in $(seq 100); do  # SIGKILLed processes vanish within moments; allow up to 2 s
    grep -lsF "$token" /proc/[0-9]*/cmdline >/dev/null || break
    sleep 0.02
  done
  ! grep -lsF "$token" /proc/[0-9]*/cmdline >/dev/null || fail "'sleep $token' survived its job"

  # Bare numbers are seconds: --timeout 5 does not stop a 0.3 s job.
  echo 0.3 | "$run" --timeout 5 -- sleep || fail "--timeout 5 stopped a 0.3 s job (status $?)"
}

case_failures() {
  local status
  seq 10 | "$run" -j 4 -- sh -c 'exit $(( $1 % 3 == 0 ))' sh >/dev/null 2>err.txt
  status=$?
  ((status == 3)) || fail "3 failing inputs: want status 3, got $status"
  [[ $(grep -c 'Failed: command exited with status 1: sh -c' err.txt) == 3 ]] ||
    fail "want 3 failure messages naming the command and status: $(<err.txt)"
  grep -q "sh 9\$" err.txt || fail "failure message does not show the input: $(<err.txt)"

  seq 150 | "$run" -j 8 -- false 2>/dev/null
  status=$?
  ((status == 101)) || fail "150 failing jobs: status is capped at 101, got $status"

  echo 1 | "$run" -- rsparallel-no-such-command 2>err.txt
  status=$?
  ((status == 1)) || fail "missing program: want status 1, got $status"
  grep -q "cannot run 'rsparallel-no-such-command': No such file or directory" err.txt ||
    fail "missing program message: $(<err.txt)"

  seq 5 | "$run" -- true || fail "all completed: want status 0, got $?"
  "$run" -- true </dev/null || fail "no input at all: want status 0, got $?"
}

case_substitution() {
  local out
  out=$(printf 'a\nb c\n' | "$run" -k -- echo 'x{}y' '{}') || fail "status $?"
  [[ "$out" == $'xay a\nxb cy b c' ]] || fail "{} substitution: got:"$'\n'"$out"
  out=$(printf 'a\nb\n' | "$run" -k -- echo pre) || fail "status $?"
  [[ "$out" == $'pre a\npre b' ]] || fail "input appended as last argument: got:"$'\n'"$out"
  # An input is one argument, spaces and quotes included; no shell sees it.
  out=$(printf '%s\n' "one two" "it's \$HOME" | "$run" -k -- sh -c 'echo "$#:$1"' sh) || fail "status $?"
  [[ "$out" == $'1:one two\n1:it\'s $HOME' ]] || fail "input split or expanded: got:"$'\n'"$out"
}

case_usage_errors() {
  local status
  echo 1 | "$run" 2>err.txt
  status=$?
  ((status == 2)) || fail "no command: want status 2, got $status"
  grep -q "no command" err.txt || fail "no command: message: $(<err.txt)"
  for bad in abc -1s 5x '' 1.5.2s 99999999999999999999h; do
    echo 1 | "$run" --timeout "$bad" -- true 2>err.txt
    status=$?
    ((status == 2)) || fail "--timeout '$bad': want status 2, got $status"
    grep -qF "invalid duration '$bad'" err.txt || fail "--timeout '$bad': message: $(<err.txt)"
  done
  echo 1 | "$run" --no-such-option -- true 2>err.txt
  (($? == 2)) || fail "unknown option: want status 2"
  grep -q "no-such-option" err.txt || fail "unknown option: message: $(<err.txt)"
  echo 1 | "$run" -j 0 -- true 2>err.txt
  (($? == 2)) || fail "-j 0: want status 2"
  grep -q "max-running" err.txt || fail "-j 0: message: $(<err.txt)"
  "$run" --help | grep -q -- "--keep-order" || fail "--help does not list the options"
}

# Each job writes several lines to stdout and to stderr with pauses between them, 8 at once: the
# lines of one job must still come out together.
check_blocks() {  # file what
  local prev="" count=0 n k
  while read -r tag n k; do
    if ((count % 5 == 0)); then
      prev=$n
    elif [[ "$n" != "$prev" ]]; then
      fail "$2: job $n's line inside job $prev's block:"$'\n'"$(<"$1")"
    fi
    [[ "$k" == $((count % 5 + 1)) ]] || fail "$2: lines of job $n out of order:"$'\n'"$(<"$1")"
    count=$((count + 1))
  done <"$1"
  ((count == 100)) || fail "$2: want 100 lines, got $count"
}

case_no_interleave() {
  seq 20 | "$run" -j 8 -- sh -c 'for k in 1 2 3 4 5; do echo "out $1 $k"; echo "err $1 $k" >&2; sleep 0.01; done' sh \
    >out.txt 2>err.txt || fail "status $?"
  check_blocks out.txt stdout
  check_blocks err.txt stderr
}

case_log() {
  local log
  seq 7 | "$run" -j 3 --log jobs.csv -- sh -c 'exit $(( $1 == 4 ))' sh 2>/dev/null
  (($? == 1)) || fail "one failing job: want status 1"
  log=$(tr -d '\r' <jobs.csv)
  [[ $(head -1 <<<"$log") == "id,name,state,input_index,queued,started,finished,duration_ms,had_errors,errors,warnings,run" ]] ||
    fail "log header: $(head -1 <<<"$log")"
  [[ $(wc -l <<<"$log") == 8 ]] || fail "want a header and 7 rows:"$'\n'"$log"
  [[ $(grep -c ',run,Completed,' <<<"$log") == 6 ]] || fail "want 6 Completed rows:"$'\n'"$log"
  grep -qE '^[0-9]+,run,Failed,3,.*,true,command exited with status 1: sh -c ' <<<"$log" ||
    fail "want input 4 (index 3) Failed with its error:"$'\n'"$log"
  # A second run rewrites the log.
  seq 2 | "$run" --log jobs.csv -- true || fail "status $?"
  [[ $(wc -l <jobs.csv) == 3 ]] || fail "log not rewritten: $(<jobs.csv)"
}

case_slices() {
  local out status
  out=$(seq 10 | "$run" -j 3 --slice-size 4 --keep-order --log jobs.csv -- echo) || fail "status $?"
  [[ "$out" == "$(seq 10)" ]] || fail "slices out of order:"$'\n'"$out"
  [[ $(($(wc -l <jobs.csv) - 1)) == 3 ]] || fail "10 inputs in slices of 4 are 3 jobs: $(<jobs.csv)"
  [[ $(cut -d, -f4 jobs.csv | tail -n +2 | sort -n | tr '\n' ' ') == "0 4 8 " ]] ||
    fail "slice input indexes: $(<jobs.csv)"
  # Exit status counts jobs: one slice with two failing commands is one failed job.
  seq 8 | "$run" --slice-size 4 -- sh -c 'exit $(( $1 == 2 || $1 == 3 ))' sh 2>err.txt
  status=$?
  ((status == 1)) || fail "one slice with failures: want status 1, got $status"
  grep -q "(and 1 more)" err.txt || fail "slice failure message: $(<err.txt)"
}

# A job runs as soon as its input line is read, not when more input arrives: the producer only
# writes its second line once the first job has run (or gives up after 5 s).
case_starts_before_input_ends() {
  {
    echo first
    for _ in $(seq 250); do
      [[ -e first.done ]] && break
      sleep 0.02
    done
    [[ -e first.done ]] && touch producer.saw-first
    echo second
  } | "$run" -- sh -c 'touch "$1.done"' sh || fail "status $?"
  [[ -e second.done ]] || fail "the second input never ran"
  [[ -e producer.saw-first ]] ||
    fail "the first job did not run until the second line of input arrived"
}

# Input with CRLF line ends (a file from Windows) gives the same inputs as LF: no stray '\r'
# reaches the command. Empty lines are inputs too.
case_crlf_input() {
  local out
  out=$(printf 'a\r\n\r\nb c\r\nlast' | "$run" --keep-order -- printf '[%s]\n') || fail "status $?"
  [[ "$out" == $'[a]\n[]\n[b c]\n[last]' ]] || fail "want [a] [] [b c] [last], got:"$'\n'"$(cat -A <<<"$out")"
}

"case_$2"
echo "rsparallel_run $2: ok"
