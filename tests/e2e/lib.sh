# Helpers shared by the end-to-end tests. usage: source lib.sh KILN SHARED
set -uo pipefail
KILN=$1
SHARED=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_error NAME FRAGMENT -- COMMAND...: the command must exit with status
# 1 (a failure) or 2 (a usage error), not a signal, and print FRAGMENT on
# stderr after "kiln: error:".
expect_error() {
  local name=$1 fragment=$2
  shift 3
  local status=0
  "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  if [ "$status" -ne 1 ] && [ "$status" -ne 2 ]; then
    fail "$name: exit status $status, expected 1 or 2"
    cat "$WORK/err" >&2
  elif ! grep -q "kiln: error: .*$fragment" "$WORK/err"; then
    fail "$name: stderr lacks '$fragment':"
    cat "$WORK/err" >&2
  fi
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "ok"
}
