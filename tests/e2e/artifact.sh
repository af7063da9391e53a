#!/usr/bin/env bash
# AOT artifacts: `kiln compile MODEL -o FILE.kiln`, then `kiln run FILE.kiln`
# with no compiler work: greedy ids equal the JIT's (`kiln run MODEL`) for
# every shared model and type, 64 tokens, on the cpu target and on opencl,
# with --precision auto, --embed-weights (the GGUF then removed) and
# --repack-at-load; an artifact for a lower ISA level (--cpu x86-64-v3)
# gives the same ids; the errors: a GGUF changed since compilation, a
# missing GGUF, a truncated or corrupt artifact, a wrong format version, an
# artifact for a CPU feature this host lacks, an opencl artifact with no
# OpenCL driver, --emit artifact to stdout, compile flags given to a run
# of an artifact; `kiln info FILE.kiln [--verify]` describes one and finds
# a corrupt stored weight.
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
# The repacked weights are stored: the q4_0 artifact holds them.
grep -q "weights stored" "$WORK/compile-err" ||
  fail "q4_0: no stored weights: $(cat "$WORK/compile-err")"
same_ids llama-q4_0-repack-at-load "$llama" "" --repack-at-load
grep -q "the weights stay in" "$WORK/compile-err" ||
  fail "--repack-at-load stored weights: $(cat "$WORK/compile-err")"
[ "$(stat -c %s "$WORK/llama-q4_0-repack-at-load.kiln")" -lt \
  "$(stat -c %s "$WORK/tinyshakes-llama-q4_0.kiln")" ] ||
  fail "--repack-at-load: the artifact is not smaller"
f16=$SHARED/tinyshakes-llama/tinyshakes-llama-f16.gguf
same_ids llama-f16-precision-auto "$f16" "--precision auto --budget 6"
grep -q "30 of 39 weights stored\|weights stored" "$WORK/compile-err" ||
  fail "--precision auto: the requantized weights are not stored: $(cat "$WORK/compile-err")"

# --embed-weights: the artifact runs with its GGUF gone.
cp "$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-q8_0.gguf" "$WORK/embed.gguf"
same_ids gpt2-q8_0-embedded "$WORK/embed.gguf" "" --embed-weights
grep -q "it holds every weight" "$WORK/compile-err" ||
  fail "--embed-weights: $(cat "$WORK/compile-err")"
jit=$("$KILN" run "$WORK/embed.gguf" -p "ROMEO:" -n 64 --temp 0 --ids 2>"$WORK/err")
rm "$WORK/embed.gguf"
aot=$("$KILN" run "$WORK/gpt2-q8_0-embedded.kiln" -p "ROMEO:" -n 64 --temp 0 --ids 2>"$WORK/err") ||
  fail "--embed-weights without the GGUF: $(cat "$WORK/err")"
[ "$jit" = "$aot" ] || fail "--embed-weights without the GGUF: '$aot' differs from '$jit'"

# The opencl target's artifacts (PoCL in CI; skipped where this kiln has no OpenCL).
if "$KILN" compile "$llama" --target opencl --emit opencl >/dev/null 2>&1; then
  for type in q8_0 q4_0 q4_k_m; do
    same_ids "llama-$type-opencl" "$SHARED/tinyshakes-llama/tinyshakes-llama-$type.gguf" \
      "--target opencl"
  done
  same_ids gpt2-f16-opencl "$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f16.gguf" "--target opencl"
  same_ids llama-f16-precision-auto-opencl "$f16" "--target opencl --precision auto --budget 6"
  "$KILN" run "$WORK/llama-q8_0-opencl.kiln" -p "ROMEO:" -n 2 --timings >/dev/null \
    2>"$WORK/err" || fail "opencl artifact --timings: $(cat "$WORK/err")"
  grep -q '"target": "opencl"' "$WORK/err" || fail "opencl --timings: $(cat "$WORK/err")"
  expect_error "opencl artifact without a driver" "compiled for target opencl: no OpenCL platform" -- \
    env OCL_ICD_VENDORS=/nonexistent "$KILN" run "$WORK/llama-q8_0-opencl.kiln" -p "ROMEO:" -n 2
  expect_error "opencl artifact run as cpu" "compiled for --target cpu, not opencl" -- \
    "$KILN" run "$WORK/tinyshakes-llama-q4_0.kiln" --target opencl -p "ROMEO:" -n 2
else
  echo "SKIP: this kiln has no OpenCL: its artifacts are not checked"
fi

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
# section_offset FILE NAME: where the section starts (its table entry:
# 16-byte name, u64 offset, u64 size, 32-byte hash: 64 bytes, after a
# 16-byte header).
section_offset() {
  python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
count = struct.unpack_from("<I", data, 12)[0]
for i in range(count):
    at = 16 + 64 * i
    if data[at:at + 16].rstrip(b"\0").decode() == sys.argv[2]:
        print(struct.unpack_from("<Q", data, at + 16)[0])
' "$1" "$2"
}
for section in plan cpu.so gguf.meta weights.index; do
  cp "$art" "$WORK/corrupt.kiln"
  at=$(section_offset "$art" "$section")
  [ -n "$at" ] || { fail "no $section section in $art"; continue; }
  printf '\xff' | dd of="$WORK/corrupt.kiln" bs=1 seek=$((at + 5)) conv=notrunc status=none
  expect_error "corrupt $section" "section '$section' does not match its SHA-256" -- \
    "$KILN" run "$WORK/corrupt.kiln" -p "ROMEO:" -n 2
done
# A flipped byte of a stored weight: loading does not hash the weights (it
# would cost seconds at every start), kiln info --verify finds it.
"$KILN" info "$art" --verify >"$WORK/out" 2>"$WORK/err" || fail "info --verify: $(cat "$WORK/err")"
grep -q "verified: .*matches its SHA-256" "$WORK/out" || fail "info --verify: $(cat "$WORK/out")"
grep -q "weights: .*stored in the artifact" "$WORK/out" || fail "info: $(cat "$WORK/out")"
"$KILN" info "$art" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["meta"]["target"] == "cpu" and d["stored_weights"] > 0, d' ||
  fail "info --json"
cp "$art" "$WORK/corrupt.kiln"
at=$(section_offset "$art" weights)
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' \
  "$WORK/corrupt.kiln" $((at + 100)) # a nibble byte of the first q4_0x8 record, not a scale
"$KILN" run "$WORK/corrupt.kiln" -p "ROMEO:" -n 2 >/dev/null 2>&1 ||
  fail "a flipped weight byte stopped the load, which does not hash the weights"
expect_error "corrupt weights, --verify" "section 'weights' does not match its SHA-256" -- \
  "$KILN" info "$WORK/corrupt.kiln" --verify
expect_error "--verify on a GGUF" "is not a kiln artifact" -- \
  "$KILN" info "$llama" --verify
cp "$art" "$WORK/version.kiln"
printf '\x09' | dd of="$WORK/version.kiln" bs=1 seek=8 conv=notrunc status=none
expect_error "version" "artifact format version 9; this kiln reads version 2" -- \
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
expect_error "numerics on an artifact" "--numerics .* apply to kiln compile" -- \
  "$KILN" run "$art" -p "ROMEO:" -n 2 --numerics exact
# A cuda artifact is compiled without a GPU (PTX for --cuda-arch); loading
# it where there is no NVIDIA driver says so (tests/e2e/cuda_ptx.sh checks
# the PTX, scripts/cuda-device-check.sh runs it on a GPU).
if "$KILN" compile "$llama" -o "$WORK/cuda.kiln" --target cuda --cuda-arch sm_90 \
     2>"$WORK/err"; then
  "$KILN" info "$WORK/cuda.kiln" >"$WORK/out" 2>"$WORK/err" || fail "info cuda: $(cat "$WORK/err")"
  grep -q "^target: *cuda$" "$WORK/out" || fail "info: no target cuda: $(cat "$WORK/out")"
  grep -q "cuda.module, [0-9]* bytes of PTX for sm_90" "$WORK/out" ||
    fail "info: no cuda.module for sm_90: $(cat "$WORK/out")"
  if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
    expect_error "cuda artifact without a driver" "compiled for target cuda: no CUDA driver" -- \
      "$KILN" run "$WORK/cuda.kiln" -p "ROMEO:" -n 2
  fi
else
  fail "compile --target cuda -o: $(cat "$WORK/err")"
fi
expect_error "cuda arch on a cpu artifact" "only --target cuda emits PTX" -- \
  "$KILN" compile "$llama" -o "$WORK/x.kiln" --cuda-arch sm_90
[ ! -e "$WORK/x.kiln" ] || fail "a refused compile left $WORK/x.kiln"
expect_error "embed and repack at load" "choose one" -- \
  "$KILN" compile "$llama" -o "$WORK/x.kiln" --embed-weights --repack-at-load
expect_error "embed without an artifact" "only an artifact" -- \
  "$KILN" compile "$llama" --embed-weights --emit plan

finish
