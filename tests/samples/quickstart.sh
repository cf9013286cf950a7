# quickstart prints both tables with the values the PowerShell examples give.
source "$(dirname "$0")/lib.sh"
quickstart=$1

out=$("$quickstart") || fail "quickstart exited with status $?"
squares=$(grep -E '^[0-9]+ +squares +Completed +[0-9]+$' <<<"$out" | awk '{print $1 ":" $4}' | tr '\n' ' ')
[[ "$squares" == "1:1 2:4 3:9 4:16 5:25 6:36 7:49 8:64 9:81 10:100 " ]] ||
  fail "squares table: got '$squares' in:"$'\n'"$out"
sums=$(grep -E '^[0-9]+ +sums +Completed +[0-9]+$' <<<"$out" | awk '{print $1 ":" $4}' | tr '\n' ' ')
[[ "$sums" == "1:6 2:15 3:24 4:10 " ]] || fail "sums table: got '$sums' in:"$'\n'"$out"
expect_contains "$out" "slices: [1..3] [4..6] [7..9] [10..10]" "slice line"

# Ten 200 ms jobs with ten running at once take about 200 ms, far from the 2 s of one at a time.
elapsed=$(sed -nE 's/.*10 running at once: ([0-9]+) ms in all.*/\1/p' <<<"$out")
[[ -n "$elapsed" ]] || fail "no elapsed time in:"$'\n'"$out"
((elapsed >= 190 && elapsed < 1500)) || fail "10 jobs of 200 ms with MaxRunning 10 took $elapsed ms"
echo "quickstart: ok"
