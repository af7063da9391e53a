#!/usr/bin/env bash
# The LLVM-free runner and the C API: kiln-run links no LLVM or MLIR (ldd),
# its greedy ids from an artifact equal `kiln run`'s on the GGUF (JIT), for
# cpu artifacts of every shared model and type, a --precision auto one, an
# --embed-weights one and (with OpenCL) opencl ones,
# its --timings JSON has kiln run's keys, its errors name the problem; the
# C example (examples/generate.c, through kiln.h) prints the same ids.
# usage: artifact_runner.sh KILN SHARED KILN_RUN EXAMPLE
source "$(dirname "$0")/lib.sh" "$1" "$2"
RUNNER=$3
EXAMPLE=$4
export KILN_CACHE_DIR=$WORK/cache

libs=$(ldd "$RUNNER") || fail "ldd kiln-run failed"
if echo "$libs" | grep -qiE "libLLVM|libMLIR|libclang"; then
  fail "kiln-run links LLVM or MLIR: $libs"
fi
echo "kiln-run: $(stat -c %s "$RUNNER") bytes, no LLVM or MLIR among its libraries"

# same_runner_ids NAME MODEL "JIT FLAGS" COMPILE FLAGS...: kiln-run and the
# C example on the artifact give the JIT's 64 greedy ids.
same_runner_ids() {
  local name=$1 model=$2 flags=$3 jit aot
  shift 3
  # shellcheck disable=SC2086
  "$KILN" compile "$model" -o "$WORK/$name.kiln" $flags "$@" 2>"$WORK/err" ||
    { fail "$name: compile: $(cat "$WORK/err")"; return; }
  # shellcheck disable=SC2086
  jit=$("$KILN" run "$model" $flags -p "ROMEO:" -n 64 --temp 0 --ids 2>"$WORK/err") ||
    { fail "$name: kiln run: $(cat "$WORK/err")"; return; }
  aot=$("$RUNNER" "$WORK/$name.kiln" -p "ROMEO:" -n 64 --temp 0 --ids 2>"$WORK/err") ||
    { fail "$name: kiln-run: $(cat "$WORK/err")"; return; }
  [ "$(echo "$aot" | wc -w)" -eq 64 ] || fail "$name: not 64 ids: '$aot'"
  [ "$jit" = "$aot" ] || fail "$name: kiln-run ids '$aot' differ from kiln run's '$jit'"
  example=$("$EXAMPLE" "$WORK/$name.kiln" "ROMEO:" 64 2>"$WORK/err") ||
    { fail "$name: example: $(cat "$WORK/err")"; return; }
  [ "$(echo "$example" | grep '^ids:' | cut -c6-)" = "$jit" ] ||
    fail "$name: the C example's ids differ: $example"
  echo "$name: kiln-run and the C example give kiln run's 64 greedy ids"
}

for model in "$SHARED"/tinyshakes-llama/tinyshakes-llama-*.gguf \
             "$SHARED"/tinyshakes-gpt2/tinyshakes-gpt2-*.gguf; do
  same_runner_ids "$(basename "$model" .gguf)" "$model" ""
done

same_runner_ids llama-f16-precision-auto "$SHARED/tinyshakes-llama/tinyshakes-llama-f16.gguf" \
  "--precision auto --budget 6"
same_runner_ids llama-q8_0-embedded "$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf" "" \
  --embed-weights
if "$KILN" compile "$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf" --target opencl \
     --emit opencl >/dev/null 2>&1; then
  same_runner_ids llama-q4_0-opencl "$SHARED/tinyshakes-llama/tinyshakes-llama-q4_0.gguf" \
    "--target opencl"
  same_runner_ids gpt2-f32-opencl "$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf" \
    "--target opencl"
  "$RUNNER" "$WORK/llama-q4_0-opencl.kiln" -p "ROMEO:" -n 4 --timings >/dev/null 2>"$WORK/err" ||
    fail "opencl --timings: $(cat "$WORK/err")"
  grep -q '"target": "opencl"' "$WORK/err" || fail "opencl --timings: $(cat "$WORK/err")"
else
  echo "SKIP: this kiln has no OpenCL: kiln-run on opencl artifacts is not checked"
fi

art=$WORK/tinyshakes-llama-q4_0.kiln
# Text, sampling with a seed (the same seed twice gives the same text).
one=$("$RUNNER" "$art" -p "ROMEO:" -n 24 --seed 7 2>/dev/null) || fail "sampled run"
two=$("$RUNNER" "$art" -p "ROMEO:" -n 24 --seed 7 2>/dev/null) || fail "sampled run 2"
[ -n "$one" ] && [ "$one" = "$two" ] || fail "seed 7 twice: '$one' then '$two'"
"$RUNNER" "$art" -p "ROMEO:" -n 8 --timings >/dev/null 2>"$WORK/err" || fail "--timings"
for key in load_s compile_s weights_s n_prompt prefill_s prefill_tok_s n_gen decode_s \
           decode_tok_s activation_bytes target kernels_cached; do
  grep -q "\"$key\"" "$WORK/err" || fail "--timings lacks $key: $(cat "$WORK/err")"
done

# Errors.
runner_error() {
  local name=$1 fragment=$2 status=0
  shift 2
  "$RUNNER" "$@" >/dev/null 2>"$WORK/err" || status=$?
  [ "$status" -eq 1 ] || fail "$name: exit status $status, expected 1"
  grep -q "kiln-run: error: .*$fragment" "$WORK/err" ||
    fail "$name: stderr lacks '$fragment': $(cat "$WORK/err")"
}
runner_error "a GGUF" "not a kiln artifact" "$SHARED/tinyshakes-llama/tinyshakes-llama-q4_0.gguf" -p x
runner_error "missing" "cannot open the artifact" "$WORK/none.kiln" -p x
runner_error "context" "exceeds the model's" "$art" -p x -c 100000000
head -c 5000 "$art" > "$WORK/short.kiln"
runner_error "truncated" "lies past the end" "$WORK/short.kiln" -p x
status=0
"$RUNNER" "$art" --top-p 7 -p x >/dev/null 2>"$WORK/err" || status=$?
[ "$status" -eq 2 ] && grep -q "kiln-run: error: --top-p" "$WORK/err" ||
  fail "--top-p 7: status $status, not a usage error naming the flag: $(cat "$WORK/err")"

finish
