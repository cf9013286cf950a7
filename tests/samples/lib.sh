# Helpers shared by the sample test scripts (sourced, not run).
set -u

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A fresh directory, removed when the script exits.
make_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/rsparallel-sample.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
}

# Milliseconds since an arbitrary origin.
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

expect_contains() {  # text needle what
  [[ "$1" == *"$2"* ]] || fail "$3: expected to contain '$2', got:"$'\n'"$1"
}
