#!/usr/bin/env bash
# --precision auto on tinyshakes-llama f32: at the bits per weight of
# llama.cpp's uniform q4_0 file (over the same weight matrices), the mix the
# chooser makes is closer to f32 (mean KL on a stretch of the val text)
# than q4_0 is. Also: --explain prints the table, the budget holds, the mix
# is cached, a quantized source says what it requantizes, and impossible
# budgets are refused with the minimum.
source "$(dirname "$0")/lib.sh" "$@"
models=$SHARED/tinyshakes-llama
export KILN_CACHE_DIR=$WORK/cache
head -c 24000 "$models/val.txt" >"$WORK/text.txt"
# What a SIGKILLed calibration leaves (its scratch copy and the copy's
# temporary, named by a PID that no longer runs) is removed by the next.
bash -c 'exit 0' & dead=$!
wait "$dead"
mkdir -p "$KILN_CACHE_DIR/precision"
touch "$KILN_CACHE_DIR/precision/calibration-$dead-aB3dE6.gguf" \
  "$KILN_CACHE_DIR/precision/calibration-$dead-aB3dE6.gguf.tmp.kiln-$dead-Zy9xW8"

# q4_0's bits per weight over the matrices, from its --explain table.
"$KILN" compile "$models/tinyshakes-llama-q4_0.gguf" --explain -o "$WORK/q4_0.mlir" \
  2>"$WORK/q4_0.explain" || fail "explain q4_0: $(cat "$WORK/q4_0.explain")"
bpw=$(sed -n 's/.*total: .* = \([0-9.]*\) bits per weight.*/\1/p' "$WORK/q4_0.explain")
[ -n "$bpw" ] || fail "no total in: $(cat "$WORK/q4_0.explain")"

"$KILN" perplexity "$models/tinyshakes-llama-q4_0.gguf" -f "$WORK/text.txt" -c 128 \
  --kl-base "$models/tinyshakes-llama-f32.gguf" --json >"$WORK/q4_0.json" 2>"$WORK/err" ||
  fail "q4_0: $(cat "$WORK/err")"
"$KILN" perplexity "$models/tinyshakes-llama-f32.gguf" --precision auto --budget "$bpw" \
  --explain -f "$WORK/text.txt" -c 128 --kl-base "$models/tinyshakes-llama-f32.gguf" \
  --json >"$WORK/auto.json" 2>"$WORK/auto.explain" ||
  fail "auto: $(cat "$WORK/auto.explain")"
grep -q "blk.0.ffn_down.weight" "$WORK/auto.explain" || fail "no table: $(cat "$WORK/auto.explain")"
python3 - "$WORK" "$bpw" <<'PY' || fail "auto vs q4_0: $(cat "$WORK/auto.explain" "$WORK"/*.json)"
import json, os, re, sys
work, budget = sys.argv[1], float(sys.argv[2])
q4, auto = (json.load(open(os.path.join(work, n + ".json"))) for n in ("q4_0", "auto"))
explain = open(os.path.join(work, "auto.explain")).read()
achieved = float(re.search(r"total: .* = ([0-9.]+) bits per weight", explain).group(1))
assert 4.5 < budget < 4.8, budget  # q4_0 blocks with output.weight in q6_K
assert achieved <= budget + 1e-4, (achieved, budget)
assert budget - achieved < 0.05, (achieved, budget)  # the budget is used
print(f"bpw {budget}: auto KL {auto['kl_mean']:.6f} top1 {auto['top1_agreement']:.4f}, "
      f"q4_0 KL {q4['kl_mean']:.6f} top1 {q4['top1_agreement']:.4f}")
assert auto["kl_mean"] < q4["kl_mean"], (auto["kl_mean"], q4["kl_mean"])
PY
[ "$(ls "$KILN_CACHE_DIR"/precision/*.gguf | wc -l)" -eq 1 ] || fail "cache: $(ls -R "$KILN_CACHE_DIR")"
[ -z "$(ls "$KILN_CACHE_DIR/precision" | grep 'calibration-\|tmp\.kiln-')" ] ||
  fail "calibration scratch left: $(ls -R "$KILN_CACHE_DIR")"

# The second time, the cached mix is used (no calibration) and still explained.
"$KILN" compile "$models/tinyshakes-llama-f32.gguf" --precision auto --budget "$bpw" \
  --explain -o "$WORK/auto.mlir" 2>"$WORK/again" || fail "cached: $(cat "$WORK/again")"
grep -q "calibrating" "$WORK/again" && fail "the cached mix was not reused: $(cat "$WORK/again")"
grep -q "total: " "$WORK/again" || fail "cached mix not explained: $(cat "$WORK/again")"
# The choices are recorded in the graph: chosen types, source and cost.
grep -Eq 'kiln.weight "blk.0.ffn_down.weight" \{kiln.requantized_from = "f32", kiln.sensitivity = [0-9.eE+-]+ : f64\} : <\[256, 768\], q[2-8]_[0K]>' \
  "$WORK/auto.mlir" || fail "no precision attributes: $(grep ffn_down "$WORK/auto.mlir")"

# A quantized source: lower types are requantized from its values, and said so.
"$KILN" run "$models/tinyshakes-llama-q8_0.gguf" --precision auto --budget 4 -p "ROMEO:" \
  -n 8 --temp 0 >"$WORK/run.out" 2>"$WORK/run.err" || fail "q8_0 source: $(cat "$WORK/run.err")"
grep -q "is q8_0 in .*; requantized to" "$WORK/run.err" ||
  fail "no requantization note: $(cat "$WORK/run.err")"

expect_error "budget too small" "below the smallest possible mix: .* bytes (2.6" -- \
  "$KILN" compile "$models/tinyshakes-llama-f32.gguf" --precision auto --budget 1
expect_error "budget without auto" "requires --precision" -- \
  "$KILN" compile "$models/tinyshakes-llama-f32.gguf" --budget 4
expect_error "auto without budget" "needs --budget" -- \
  "$KILN" compile "$models/tinyshakes-llama-f32.gguf" --precision auto
expect_error "missing calibration" "nothing.txt: cannot open the calibration text (--calibration): No such file" -- \
  "$KILN" compile "$models/tinyshakes-llama-f32.gguf" --precision auto --budget 4 \
  --calibration "$WORK/nothing.txt"
finish
