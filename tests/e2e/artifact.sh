#!/usr/bin/env bash
# AOT artifacts: `kiln compile MODEL -o FILE.kiln`, then `kiln run FILE.kiln`
# with no compiler work: greedy ids equal the JIT's (`kiln run MODEL`) for
# every shared model and type, 64 tokens; an artifact for a lower ISA level
# (--cpu x86-64-v3) gives the same ids; the errors: a GGUF changed since
# compilation, a missing GGUF, a truncated or corrupt artifact, a wrong
# format version, an artifact for a CPU feature this host lacks, --emit
# artifact to stdout, compile flags given to a run of an artifact.
source "$(dirname "$0")/lib.sh" "$@"
export KILN_CACHE_DIR=$WORK/cache

# same_ids NAME MODEL "PASS FLAGS" [COMPILE FLAGS...]: the artifact's greedy
# ids are the JIT's (the pass flags go to both).
same_ids() {
  local name=$1 model=$2 passes=$3 jit aot
  shift 3
  # shellcheck disable=SC2086
  "$KILN" compile "$model" -o "$WORK/$name.kiln" $passes "$@" 2>"$WORK/compile-err" ||
    { fail "$name: compile -o: $(cat "$WORK/compile-err")"; return; }
  # shellcheck disable=SC2086
  jit=$("$KILN" run "$model" -p "ROMEO:" -n 64 --temp 0 --ids $passes 2>"$WORK/err") ||
    { fail "$name: run the GGUF: $(cat "$WORK/err")"; return; }
  aot=$("$KILN" run "$WORK/$name.kiln" -p "ROMEO:" -n 64 --temp 0 --ids 2>"$WORK/err") ||
    { fail "$name: run the artifact: $(cat "$WORK/err")"; return; }
  [ "$(echo "$aot" | wc -w)" -eq 64 ] || fail "$name: not 64 ids: '$aot'"
  [ "$jit" = "$aot" ] || fail "$name: artifact ids '$aot' differ from the JIT's '$jit'"
  echo "$name: 64 greedy ids equal from the artifact and the JIT"
}

for model in "$SHARED"/tinyshakes-llama/tinyshakes-llama-*.gguf \
             "$SHARED"/tinyshakes-gpt2/tinyshakes-gpt2-*.gguf; do
  same_ids "$(basename "$model" .gguf)" "$model" ""
done
llama=$SHARED/tinyshakes-llama/tinyshakes-llama-q4_0.gguf
same_ids llama-q4_0-unfused "$llama" --no-fuse
same_ids llama-q4_0-x86-64-v3 "$llama" "" --cpu x86-64-v3
grep -q "kernels for CPU x86-64-v3" "$WORK/compile-err" ||
  fail "--cpu x86-64-v3: the summary does not name the CPU: $(cat "$WORK/compile-err")"

# The artifact runs without compiling: its timings say so.
"$KILN" run "$WORK/tinyshakes-llama-q4_0.kiln" -p "ROMEO:" -n 4 --timings \
  >/dev/null 2>"$WORK/err" || fail "run --timings: $(cat "$WORK/err")"
grep -q '"kernels_cached": true' "$WORK/err" || fail "--timings: $(cat "$WORK/err")"

# A GGUF that changes after compilation: refused, naming the file.
cp "$llama" "$WORK/model.gguf"
"$KILN" compile "$WORK/model.gguf" -o "$WORK/model.kiln" 2>"$WORK/err" ||
  fail "compile the copy: $(cat "$WORK/err")"
"$KILN" run "$WORK/model.kiln" -p "ROMEO:" -n 2 >/dev/null 2>"$WORK/err" ||
  fail "run before the change: $(cat "$WORK/err")"
touch -d "2020-01-01" "$WORK/model.gguf" # same bytes, another time: still valid
"$KILN" run "$WORK/model.kiln" -p "ROMEO:" -n 2 >/dev/null 2>"$WORK/err" ||
  fail "run after a touch: $(cat "$WORK/err")"
size=$(stat -c %s "$WORK/model.gguf")
printf '\x55' | dd of="$WORK/model.gguf" bs=1 seek=$((size - 7)) conv=notrunc status=none
expect_error "changed GGUF" "model.gguf changed since the artifact was compiled (its SHA-256 differs): compile the model again" -- \
  "$KILN" run "$WORK/model.kiln" -p "ROMEO:" -n 2
head -c $((size - 100)) "$llama" > "$WORK/model.gguf"
expect_error "shorter GGUF" "changed since the artifact was compiled" -- \
  "$KILN" run "$WORK/model.kiln" -p "ROMEO:" -n 2
rm "$WORK/model.gguf"
expect_error "missing GGUF" "model.gguf, cannot be opened" -- \
  "$KILN" run "$WORK/model.kiln" -p "ROMEO:" -n 2

# Broken artifacts.
art=$WORK/tinyshakes-llama-q4_0.kiln
bytes=$(stat -c %s "$art")
head -c $((bytes / 2)) "$art" > "$WORK/truncated.kiln"
expect_error "truncated" "lies past the end of the" -- \
  "$KILN" run "$WORK/truncated.kiln" -p "ROMEO:" -n 2
cp "$art" "$WORK/corrupt.kiln"
printf '\xff' | dd of="$WORK/corrupt.kiln" bs=1 seek=$((bytes - 100)) conv=notrunc status=none
expect_error "corrupt" "does not match its SHA-256" -- \
  "$KILN" run "$WORK/corrupt.kiln" -p "ROMEO:" -n 2
cp "$art" "$WORK/version.kiln"
printf '\x09' | dd of="$WORK/version.kiln" bs=1 seek=8 conv=notrunc status=none
expect_error "version" "artifact format version 9; this kiln reads version 1" -- \
  "$KILN" run "$WORK/version.kiln" -p "ROMEO:" -n 2
head -c 8 "$art" > "$WORK/magic-only.kiln"
expect_error "magic only" "not a kiln artifact" -- \
  "$KILN" run "$WORK/magic-only.kiln" -p "ROMEO:" -n 2

# Code for a feature this CPU lacks is refused before it can run.
if ! grep -qw avx512f /proc/cpuinfo; then
  "$KILN" compile "$llama" -o "$WORK/spr.kiln" --cpu sapphirerapids 2>"$WORK/err" ||
    fail "compile --cpu sapphirerapids: $(cat "$WORK/err")"
  expect_error "missing feature" "which this CPU lacks" -- \
    "$KILN" run "$WORK/spr.kiln" -p "ROMEO:" -n 2
  grep -q "avx512f" "$WORK/err" || fail "missing feature: avx512f not named: $(cat "$WORK/err")"
else
  echo "this CPU has AVX-512: the missing-feature check is not exercised here"
fi

expect_error "unknown cpu" "LLVM does not know this CPU" -- \
  "$KILN" compile "$llama" -o "$WORK/x.kiln" --cpu no-such-cpu
expect_error "stdout" "an artifact is a file" -- \
  "$KILN" compile "$llama" --emit artifact
expect_error "flags on an artifact" "an artifact runs as it was compiled" -- \
  "$KILN" run "$art" -p "ROMEO:" -n 2 --no-fuse
expect_error "opencl artifact" "are not built yet" -- \
  "$KILN" compile "$llama" -o "$WORK/x.kiln" --target opencl
[ ! -e "$WORK/x.kiln" ] || fail "a refused compile left $WORK/x.kiln"

finish
