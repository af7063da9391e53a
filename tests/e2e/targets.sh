#!/usr/bin/env bash
# --target on run, bench, perplexity and compile: cpu is the default and
# changes nothing (same greedy ids, same plan); cuda is known but not built,
# a failure (exit 1) that says so before any work (opencl is built where an
# ICD loader was found: tests/e2e/opencl.sh); any other name is a usage
# error (exit 2) listing the known names.
source "$(dirname "$0")/lib.sh" "$@"
model=$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf
text=$(dirname "$0")/../../models/calibration.txt

plain=$("$KILN" run "$model" -p "ROMEO:" -n 16 --temp 0 --ids 2>"$WORK/err") ||
  fail "run without --target: $(cat "$WORK/err")"
cpu=$("$KILN" run "$model" -p "ROMEO:" -n 16 --temp 0 --ids --target cpu 2>"$WORK/err") ||
  fail "run --target cpu: $(cat "$WORK/err")"
[ "$(echo "$plain" | wc -w)" -eq 16 ] || fail "run printed not 16 ids: '$plain'"
[ "$plain" = "$cpu" ] || fail "--target cpu ids '$cpu' differ from the default's '$plain'"

"$KILN" compile "$model" --emit plan -o "$WORK/plain.plan" 2>"$WORK/err" ||
  fail "compile --emit plan: $(cat "$WORK/err")"
"$KILN" compile "$model" --emit plan --target cpu -o "$WORK/cpu.plan" 2>"$WORK/err" ||
  fail "compile --emit plan --target cpu: $(cat "$WORK/err")"
cmp -s "$WORK/plain.plan" "$WORK/cpu.plan" || fail "--target cpu changes the plan"

# expect_status NAME STATUS FRAGMENT -- COMMAND...: exactly that exit status
# and FRAGMENT on stderr after "kiln: error:".
expect_status() {
  local name=$1 want=$2 fragment=$3
  shift 4
  local status=0
  "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  if [ "$status" -ne "$want" ]; then
    fail "$name: exit status $status, expected $want: $(cat "$WORK/err")"
  elif ! grep -qF "kiln: error: $fragment" "$WORK/err"; then
    fail "$name: stderr lacks 'kiln: error: $fragment': $(cat "$WORK/err")"
  fi
}

# "(available: cpu" then ", opencl" where it is built.
for target in cuda; do
  message="--target $target: the CUDA target is not built yet (available: cpu"
  expect_status "run --target $target" 1 "$message" -- \
    "$KILN" run "$model" -p "ROMEO:" -n 4 --target "$target"
  expect_status "bench --target $target" 1 "$message" -- \
    "$KILN" bench "$model" -p 8 -n 4 --target "$target"
  expect_status "perplexity --target $target" 1 "$message" -- \
    "$KILN" perplexity "$model" --file "$text" --target "$target"
  expect_status "compile --target $target" 1 "$message" -- \
    "$KILN" compile "$model" --emit plan -o "$WORK/x.plan" --target "$target"
  # Refused before a calibration starts, not after it.
  expect_status "run --precision auto --target $target" 1 "$message" -- \
    "$KILN" run "$model" -p "ROMEO:" -n 4 --precision auto --budget 4.5 --target "$target"
done
[ ! -e "$WORK/x.plan" ] || fail "compile --target cuda wrote its output"

for command in run bench perplexity compile; do
  expect_status "$command --target foo" 2 "--target: foo not in {cpu,opencl,cuda}" -- \
    "$KILN" "$command" "$model" --target foo
done
finish
