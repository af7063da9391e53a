#!/usr/bin/env bash
# The compiler commands (run, bench, perplexity, compile) on careless input:
# text inputs that are not regular files, flags out of range, a model whose
# context length asks for more KV cache than the machine has, weights that
# hold NaN or Inf, and a model file changed in place under --precision auto.
source "$(dirname "$0")/lib.sh" "$@"
models=$SHARED/tinyshakes-llama
q8="$models/tinyshakes-llama-q8_0.gguf"
f32="$models/tinyshakes-llama-f32.gguf"
patch="python3 $(dirname "$0")/gguf_patch.py"
export KILN_CACHE_DIR=$WORK/cache
mkfifo "$WORK/fifo"
head -c 3000 "$models/val.txt" >"$WORK/text.txt"

# Prompt, perplexity and calibration texts that are not regular files.
expect_error run-dir "$WORK: the prompt file (-f) is a directory" -- \
  timeout 20 "$KILN" run "$q8" -f "$WORK"
expect_error run-fifo "fifo: the prompt file (-f) is a FIFO" -- \
  timeout 20 "$KILN" run "$q8" -f "$WORK/fifo"
expect_error run-dev-zero "/dev/zero: the prompt file (-f) is a character device" -- \
  timeout 20 "$KILN" run "$q8" -f /dev/zero
expect_error perplexity-dev-zero "/dev/zero: .* is a character device" -- \
  timeout 20 "$KILN" perplexity "$q8" -f /dev/zero
expect_error calibration-dev-zero "/dev/zero: .* is a character device" -- \
  timeout 20 "$KILN" run "$f32" -p hi -n 1 --precision auto --budget 4.5 --calibration /dev/zero
expect_error calibration-dir "is a directory" -- \
  timeout 20 "$KILN" run "$f32" -p hi -n 1 --precision auto --budget 4.5 --calibration "$WORK"
expect_error run-model-fifo "fifo: is a FIFO, not a regular file" -- \
  timeout 20 "$KILN" run "$WORK/fifo" -p hi

# Flags out of range: usage errors (exit 2) naming the flag and the range.
usage_error() {
  local name=$1 fragment=$2 status=0
  shift 3
  "$@" >/dev/null 2>"$WORK/err" || status=$?
  [ "$status" -eq 2 ] && grep -q -- "kiln: error: $fragment" "$WORK/err" ||
    fail "$name: status $status, expected 2 and '$fragment': $(cat "$WORK/err")"
}
for threads in 0 4294967295; do
  usage_error "run-t$threads" "--threads: Value $threads not in range 1 to 1024" -- \
    "$KILN" run "$q8" -p hi -t "$threads"
  usage_error "bench-t$threads" "--threads: Value $threads not in range 1 to 1024" -- \
    "$KILN" bench "$q8" -t "$threads"
  usage_error "perplexity-t$threads" "--threads: Value $threads not in range 1 to 1024" -- \
    "$KILN" perplexity "$q8" -f "$WORK/text.txt" -t "$threads"
done
for context in 0 -5; do
  usage_error "run-c$context" "--context: Value $context not in range 1 to" -- \
    "$KILN" run "$q8" -p hi -c "$context"
done
usage_error perplexity-c2 "--context: Value 2 not in range 4 to" -- \
  "$KILN" perplexity "$q8" -f "$WORK/text.txt" -c 2
usage_error top-k "--top-k: Value -5 not in range 0 to" -- "$KILN" run "$q8" -p hi --top-k -5
usage_error temp "--temp: Value -1 must be >= 0" -- "$KILN" run "$q8" -p hi --temp -1
usage_error temp-nan "--temp: Value nan must be >= 0" -- "$KILN" run "$q8" -p hi --temp nan
usage_error top-p "--top-p: Value 2 must be in \[0, 1\]" -- "$KILN" run "$q8" -p hi --top-p 2
usage_error repeat-penalty "--repeat-penalty: Value 0 must be > 0" -- \
  "$KILN" run "$q8" -p hi --repeat-penalty 0
usage_error tokens "--tokens: Value -1 not in range" -- "$KILN" run "$q8" -p hi -n -1
usage_error budget-nan "--budget: Value nan must be > 0" -- \
  "$KILN" run "$f32" -p hi --precision auto --budget nan
usage_error bench-repeats "--repeats: Value 0 not in range 1 to 1000" -- "$KILN" bench "$q8" -r 0
usage_error compile-batch "--batch: Value 0 not in range 1 to" -- \
  "$KILN" compile "$q8" --emit plan -b 0

# A context length of 2^24 (accepted by the loader): the KV cache holds what
# the run needs (prompt + -n), so the run is the original model's, token for
# token; asking for all of it is refused with the size and a -c that fits.
$patch "$q8" "$WORK/ctx.gguf" set-u32 llama.context_length 16777216 || fail "patch context"
want=$("$KILN" run "$q8" -p "ROMEO:" -n 8 --temp 0 --ids 2>"$WORK/err") || fail "run q8: $(cat "$WORK/err")"
got=$("$KILN" run "$WORK/ctx.gguf" -p "ROMEO:" -n 8 --temp 0 --ids 2>"$WORK/err") ||
  fail "run with context 2^24: $(cat "$WORK/err")"
[ -n "$want" ] && [ "$want" = "$got" ] || fail "context 2^24 changed the ids: '$want' vs '$got'"
expect_error kv-too-big "the KV cache for 16777003 positions (prompt + -n) needs 64.00 GiB, more than this machine's .*; ask for at most [0-9]* positions (-c or -n)" -- \
  "$KILN" run "$WORK/ctx.gguf" -p "ROMEO:" -c 16777216 -n 16777000

# NaN or Inf weights: the run stops with an error naming the first kernel
# output that is not finite and the weight it read, instead of printing ids.
for value in nan inf; do
  $patch "$f32" "$WORK/$value.gguf" fill-tensor blk.1.ffn_down.weight "$value" ||
    fail "patch $value"
  expect_error "run-$value" "logits of prompt tokens 0..2 are not finite .*reading blk.1.ffn_down.weight" -- \
    "$KILN" run "$WORK/$value.gguf" -p "ROMEO:" -n 4 --ids
  expect_error "perplexity-$value" "logits of chunk 1 .* are not finite .*reading blk.1.ffn_down.weight" -- \
    "$KILN" perplexity "$WORK/$value.gguf" -f "$WORK/text.txt" -c 64
  expect_error "kl-base-$value" "$value.gguf: the logits of chunk 1 .* are not finite" -- \
    "$KILN" perplexity "$f32" -f "$WORK/text.txt" -c 64 --kl-base "$WORK/$value.gguf"
done

# --precision auto keys its cache on the model's bytes: an identical copy
# elsewhere reuses the mix; a file changed in place with its size and mtime
# kept is calibrated again.
auto=(--precision auto --budget 4.5 --sensitivity mse --calibration "$WORK/text.txt")
cp -p "$f32" "$WORK/a.gguf"
"$KILN" compile "$WORK/a.gguf" "${auto[@]}" -o "$WORK/a.mlir" 2>"$WORK/first" ||
  fail "first auto: $(cat "$WORK/first")"
grep -q "calibrating" "$WORK/first" || fail "first auto did not calibrate: $(cat "$WORK/first")"
cp -p "$f32" "$WORK/b.gguf"
"$KILN" compile "$WORK/b.gguf" "${auto[@]}" -o "$WORK/b.mlir" 2>"$WORK/copy" ||
  fail "copy auto: $(cat "$WORK/copy")"
grep -q "calibrating" "$WORK/copy" && fail "an identical copy was calibrated again"
$patch "$f32" "$WORK/changed.gguf" fill-tensor blk.0.ffn_down.weight 0.001 || fail "patch"
cat "$WORK/changed.gguf" >"$WORK/a.gguf"   # same inode, same size
touch -r "$f32" "$WORK/a.gguf"             # same mtime
"$KILN" compile "$WORK/a.gguf" "${auto[@]}" -o "$WORK/a2.mlir" 2>"$WORK/changed" ||
  fail "changed auto: $(cat "$WORK/changed")"
grep -q "calibrating" "$WORK/changed" ||
  fail "a model changed in place reused the old mix: $(cat "$WORK/changed")"
finish
