#!/usr/bin/env bash
# --target on run, bench, perplexity and compile: cpu is the default and
# changes nothing (same greedy ids, same plan); cuda generates code anywhere
# and, without an NVIDIA driver, refuses to run before any work (opencl is
# built where an ICD loader was found: tests/e2e/opencl.sh); any other name
# is a usage error (exit 2) listing the known names.
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

# cuda is built everywhere; generating its code needs no GPU: its plan is
# the CPU's (the same kernels and weight layouts).
"$KILN" compile "$model" --emit plan --target cuda -o "$WORK/cuda.plan" 2>"$WORK/err" ||
  fail "compile --emit plan --target cuda: $(cat "$WORK/err")"
cmp -s "$WORK/plain.plan" "$WORK/cuda.plan" || fail "--target cuda changes the plan"
expect_status "--cuda-arch without --target cuda" 1 \
  "--cuda-arch sm_90: only --target cuda emits PTX" -- \
  "$KILN" compile "$model" --emit plan --cuda-arch sm_90
expect_status "--cuda-arch sm_70" 1 "--cuda-arch sm_70: kiln's PTX targets sm_75 to sm_90" -- \
  "$KILN" compile "$model" --emit ptx --target cuda --cuda-arch sm_70

# Running it needs an NVIDIA driver: where there is none (CI), each command
# that runs the model says so before any work. tests/e2e/cuda_ptx.sh checks
# the PTX; scripts/cuda-device-check.sh runs it on a GPU.
no_driver() {
  local fragment=$1
  shift
  expect_status "run --target cuda" 1 "--target cuda: $fragment" -- \
    "$@" "$KILN" run "$model" -p "ROMEO:" -n 4 --target cuda
  expect_status "bench --target cuda" 1 "--target cuda: $fragment" -- \
    "$@" "$KILN" bench "$model" -p 8 -n 4 --target cuda
  expect_status "perplexity --target cuda" 1 "--target cuda: $fragment" -- \
    "$@" "$KILN" perplexity "$model" --file "$text" --target cuda
  # Refused before a calibration starts, not after it.
  expect_status "run --precision auto --target cuda" 1 "--target cuda: $fragment" -- \
    "$@" "$KILN" run "$model" -p "ROMEO:" -n 4 --precision auto --budget 4.5 --target cuda
}
if ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  echo "skipping the no-driver checks: this machine has libcuda.so.1"
else
  no_driver "no CUDA driver: libcuda.so.1 cannot be loaded" env
  # The CUDA toolkit's stub library, where the toolkit is, is no driver.
  stub=${CUDA_HOME:-/usr/local/cuda}/lib64/stubs/libcuda.so
  if [ -f "$stub" ]; then
    mkdir -p "$WORK/stub"
    ln -s "$stub" "$WORK/stub/libcuda.so.1"
    no_driver "no CUDA driver: the libcuda.so.1 found is the CUDA toolkit's stub library" \
      env LD_LIBRARY_PATH="$WORK/stub"
  fi
fi

for command in run bench perplexity compile; do
  expect_status "$command --target foo" 2 "--target: foo not in {cpu,opencl,cuda}" -- \
    "$KILN" "$command" "$model" --target foo
done
finish
