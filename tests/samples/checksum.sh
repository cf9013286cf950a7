# checksum over a small tree: known hashes, Failed jobs for unreadable files, a TimedOut job for a
# file too big to read within --timeout, the summary counts and the CSV log.
source "$(dirname "$0")/lib.sh"
checksum=$(realpath "$1")
make_workdir
tree=$WORK/tree
mkdir -p "$tree/a/b/c" "$tree/empty-dir"

# Regular files: known FNV-1a 64 test vectors, and some bulk.
printf '' >"$tree/empty"
printf 'a' >"$tree/a/one-a"
printf 'foobar' >"$tree/a/b/foobar"
for i in $(seq 1 30); do head -c $((i * 3000)) /dev/zero >"$tree/a/b/c/zeros$i"; done
regular=33
# A symlink to a regular file is checksummed as that file.
ln -s "$tree/a/b/foobar" "$tree/link-to-foobar"
regular=$((regular + 1))
# Not regular files: skipped, no job.
ln -s "$tree/does-not-exist" "$tree/dangling"
mkfifo "$tree/fifo"
ln -s /dev/zero "$tree/device"
# Regular files that cannot be read, even by root: /proc/self/mem at offset 0 gives EIO.
ln -s /proc/self/mem "$tree/a/mem1"
ln -s /proc/self/mem "$tree/a/b/mem2"
failing=2
# Unreadable by mode: fails unless we are root, who reads it.
printf 'secret' >"$tree/a/locked"
chmod 000 "$tree/a/locked"
if [[ $(id -u) == 0 ]]; then regular=$((regular + 1)); else failing=$((failing + 1)); fi
# Sparse and huge: cannot be read within the 1 s timeout.
truncate -s 8G "$tree/huge"
timed_out=1
total=$((regular + failing + timed_out))

cd "$WORK"
start=$(now_ms)
"$checksum" "$tree" -j 2 --timeout 1s --print >out.txt 2>err.txt
status=$?
elapsed=$(($(now_ms) - start))
out=$(<out.txt)
[[ $status == 0 ]] || fail "exit status $status; stderr: $(<err.txt)"
[[ ! -s err.txt ]] || fail "stderr is not a terminal, so nothing should be drawn there: $(<err.txt)"
((elapsed < 10000)) || fail "took $elapsed ms: the 1 s timeout did not stop the huge file"

summary() { sed -nE "s/^  $1 +([0-9]+)\$/\\1/p" <<<"$out"; }
[[ $(summary jobs) == "$total" ]] || fail "jobs: want $total in:"$'\n'"$out"
[[ $(summary completed) == "$regular" ]] || fail "completed: want $regular in:"$'\n'"$out"
[[ $(summary failed) == "$failing" ]] || fail "failed: want $failing in:"$'\n'"$out"
[[ $(summary 'timed out') == "$timed_out" ]] || fail "timed out: want $timed_out in:"$'\n'"$out"
grep -qE '^  files/s +[0-9]+$' <<<"$out" || fail "no files/s line"
grep -qE '^  p50 job +[0-9.]+ ms$' <<<"$out" || fail "no p50 line"
grep -qE '^  p99 job +[0-9.]+ ms$' <<<"$out" || fail "no p99 line"
grep -qE '^  peak memory +[0-9.]+ MiB$' <<<"$out" || fail "no peak memory line"
expect_contains "$out" "cannot read $tree/a/mem1: Input/output error" "failure list"
expect_contains "$out" "cannot read $tree/a/b/mem2: Input/output error" "failure list"
expect_contains "$out" "TimedOut: timed out after 1000 ms: $tree/huge" "failure list"

# --print: FNV-1a 64 of "", "a" and "foobar" are published test vectors.
expect_contains "$out" "cbf29ce484222325  $tree/empty" "hash of the empty file"
expect_contains "$out" "af63dc4c8601ec8c  $tree/a/one-a" "hash of 'a'"
expect_contains "$out" "85944171f73967e8  $tree/a/b/foobar" "hash of 'foobar'"
expect_contains "$out" "85944171f73967e8  $tree/link-to-foobar" "hash through a symlink"
[[ $(grep -cE '^[0-9a-f]{16}  /' <<<"$out") == "$regular" ]] || fail "--print: want $regular hash lines"
grep -qE "  $tree/(dangling|fifo|device)\$" <<<"$out" && fail "a non-regular file was checksummed"

# The default log, in the current directory: a header and one row per job.
log=$(tr -d '\r' <checksum-log.csv)
[[ $(head -1 <<<"$log") == "id,name,state,input_index,queued,started,finished,duration_ms,had_errors,errors,warnings,run" ]] ||
  fail "log header: $(head -1 <<<"$log")"
[[ $(($(wc -l <<<"$log") - 1)) == "$total" ]] || fail "log: want $total rows in:"$'\n'"$log"
[[ $(grep -c ',checksum,Completed,' <<<"$log") == "$regular" ]] || fail "log: Completed rows"
[[ $(grep -c ',checksum,Failed,' <<<"$log") == "$failing" ]] || fail "log: Failed rows"
[[ $(grep -c ',checksum,TimedOut,' <<<"$log") == "$timed_out" ]] || fail "log: TimedOut rows"
grep -q ",true,cannot read $tree/a/mem1: Input/output error," <<<"$log" || fail "log: error text"

# A second run rewrites the log rather than appending; --limit stops after N files.
"$checksum" "$tree/a/b/c" --limit 5 --quiet >out2.txt 2>&1 || fail "--limit run failed: $(<out2.txt)"
[[ $(sed -nE 's/^  jobs +([0-9]+)$/\1/p' out2.txt) == 5 ]] || fail "--limit 5: $(<out2.txt)"
[[ $(($(wc -l <checksum-log.csv) - 1)) == 5 ]] || fail "log not rewritten: $(wc -l <checksum-log.csv) lines"

# --log '' writes no log.
rm checksum-log.csv
"$checksum" "$tree/a/b/c" --log '' >out3.txt 2>&1 || fail "--log '' run failed: $(<out3.txt)"
[[ ! -e checksum-log.csv ]] || fail "--log '' still wrote a log"
[[ $(sed -nE 's/^  completed +([0-9]+)$/\1/p' out3.txt) == 30 ]] || fail "subtree: $(<out3.txt)"

# A directory that does not exist: a message, not a crash.
"$checksum" "$WORK/nope" >out4.txt 2>&1
status=$?
((status == 1)) || fail "missing directory: status $status: $(<out4.txt)"
grep -q "nope" out4.txt || fail "missing directory: message does not name it: $(<out4.txt)"
"$checksum" --timeout nonsense >out5.txt 2>&1
(($? == 2)) || fail "bad --timeout: want status 2: $(<out5.txt)"
echo "checksum: ok"
