#!/usr/bin/env bash
# --target opencl from the command line, on whatever OpenCL device the ICD
# loader finds (PoCL on the CPU in CI): greedy ids equal --target cpu's
# (shared models, and a GQA model with a tied output made by kiln synth),
# the program binary cache (a second run builds nothing; a corrupt entry is
# reported and rebuilt), bench and perplexity on the target, --emit opencl,
# and the errors: no platform, --emit llvm for opencl.
# Skips (77) when kiln was built without OpenCL; fails when built with it
# but no device is found (CI installs PoCL).
source "$(dirname "$0")/lib.sh" "$@"
llama=$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf
gpt2=$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f16.gguf
text=$(dirname "$0")/../../models/calibration.txt
export KILN_CACHE_DIR=$WORK/cache

if "$KILN" run "$llama" -p "ROMEO:" -n 1 --target opencl 2>"$WORK/err" >/dev/null; then
  :
elif grep -q "not built yet" "$WORK/err"; then
  echo "SKIP: kiln was built without OpenCL: $(cat "$WORK/err")"
  exit 77
else
  fail "run --target opencl: $(cat "$WORK/err")"
  finish
fi

# same_ids NAME N MODEL: greedy ids of both targets.
same_ids() {
  local name=$1 count=$2 model=$3 cpu ocl
  cpu=$("$KILN" run "$model" -p "ROMEO:" -n "$count" --temp 0 --ids 2>"$WORK/err") ||
    { fail "$name --target cpu: $(cat "$WORK/err")"; return; }
  ocl=$("$KILN" run "$model" -p "ROMEO:" -n "$count" --temp 0 --ids --target opencl \
        2>"$WORK/err") || { fail "$name --target opencl: $(cat "$WORK/err")"; return; }
  [ "$(echo "$ocl" | wc -w)" -eq "$count" ] || fail "$name: not $count ids: '$ocl'"
  [ "$cpu" = "$ocl" ] || fail "$name: opencl ids '$ocl' differ from cpu's '$cpu'"
  echo "$name: $count greedy ids equal on cpu and opencl"
}
same_ids llama-q8_0 32 "$llama"
same_ids gpt2-f16 32 "$gpt2"
"$KILN" synth --preset tiny-gqa-tied --type f32 --vocab "$SHARED/tinyshakes-llama/tinyshakes-llama-f32.gguf" \
  -o "$WORK/gqa.gguf" >/dev/null 2>"$WORK/err" || fail "synth tiny-gqa-tied: $(cat "$WORK/err")"
"$KILN" info "$WORK/gqa.gguf" >"$WORK/info" 2>&1 || fail "info gqa: $(cat "$WORK/info")"
grep -qE "^ *output\.weight" "$WORK/info" && fail "the tied GQA model has an output.weight"
same_ids gqa-tied-f32 64 "$WORK/gqa.gguf"

# The program binary cache: the second run's kernels come from it.
rm -rf "$KILN_CACHE_DIR"
for round in first second; do
  "$KILN" run "$llama" -p "ROMEO:" -n 2 --target opencl --timings >/dev/null 2>"$WORK/$round" ||
    fail "cache $round run: $(cat "$WORK/$round")"
done
grep -q '"target": "opencl", "kernels_cached": false' "$WORK/first" ||
  fail "first run: $(cat "$WORK/first")"
grep -q '"target": "opencl", "kernels_cached": true' "$WORK/second" ||
  fail "second run did not use the program cache: $(cat "$WORK/second")"
# A flipped byte in every entry: reported, rebuilt, same ids.
for entry in "$KILN_CACHE_DIR"/*.o; do
  printf 'X' | dd of="$entry" bs=1 seek=100 conv=notrunc status=none
done
"$KILN" run "$llama" -p "ROMEO:" -n 2 --target opencl --timings >/dev/null 2>"$WORK/flipped" ||
  fail "run after the cache was corrupted: $(cat "$WORK/flipped")"
grep -q "kiln: warning: .*recompiling" "$WORK/flipped" ||
  fail "a corrupt program binary was not reported: $(cat "$WORK/flipped")"
grep -q '"kernels_cached": false' "$WORK/flipped" || fail "corrupt entry was used"

# bench: JSON with the target, and the table.
"$KILN" bench "$llama" -p 16 -n 4 -r 1 --target opencl --json >"$WORK/bench.json" \
  2>"$WORK/err" || fail "bench --target opencl --json: $(cat "$WORK/err")"
python3 - "$WORK/bench.json" <<'PY' || fail "bench --target opencl JSON: $(cat "$WORK/bench.json")"
import json, sys
report = json.load(open(sys.argv[1]))
text = json.dumps(report)
assert '"opencl"' in text, "the report does not name the target"
def rates(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("prefill_tok_s", "decode_tok_s"):
                yield value
            else:
                yield from rates(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from rates(item)
found = list(rates(report))
assert found and all(v > 0 for v in found), found
PY
"$KILN" bench "$llama" -p 16 -n 4 -r 1 --target opencl >"$WORK/bench.txt" 2>"$WORK/err" ||
  fail "bench --target opencl: $(cat "$WORK/err")"
grep -qi "opencl" "$WORK/bench.txt" || fail "bench table does not name the target"

# perplexity on both targets: close (the same model, other summation order).
for target in cpu opencl; do
  "$KILN" perplexity "$llama" --file "$text" -c 64 --target "$target" >"$WORK/ppl-$target" \
    2>"$WORK/err" || fail "perplexity --target $target: $(cat "$WORK/err")"
done
python3 - "$WORK/ppl-cpu" "$WORK/ppl-opencl" <<'PY' || fail "perplexity cpu vs opencl"
import re, sys
def ppl(path):
    text = open(path).read()
    found = re.findall(r"perplexity[^0-9]*([0-9.]+)", text, re.I)
    assert found, text
    return float(found[-1])
cpu, ocl = ppl(sys.argv[1]), ppl(sys.argv[2])
print(f"perplexity cpu {cpu} opencl {ocl}")
assert abs(cpu - ocl) <= 0.01 * cpu, (cpu, ocl)
PY

# --emit opencl: the program, every kernel of the plan.
"$KILN" compile "$llama" --target opencl --emit opencl -o "$WORK/model.cl" 2>"$WORK/err" ||
  fail "compile --emit opencl: $(cat "$WORK/err")"
kernels=$(grep -c "^__kernel void kiln_" "$WORK/model.cl")
launches=$(grep -c "^//   kiln_" "$WORK/model.cl")
[ "$kernels" -gt 5 ] && [ "$kernels" -eq "$launches" ] ||
  fail "--emit opencl printed $kernels kernels for $launches launches"
expect_error "emit llvm for opencl" "the OpenCL target emits OpenCL C: --emit opencl" -- \
  "$KILN" compile "$llama" --target opencl --emit llvm
expect_error "emit opencl for cpu" "--emit opencl needs --target opencl" -- \
  "$KILN" compile "$llama" --emit opencl

# No platform: an ICD loader with no driver to load.
mkdir -p "$WORK/no-icds"
OCL_ICD_VENDORS=$WORK/no-icds expect_error "no platform" \
  "--target opencl: no OpenCL platform.*pocl-opencl-icd" -- \
  "$KILN" run "$llama" -p "ROMEO:" -n 2 --target opencl
KILN_OPENCL_DEVICE=no-such-device expect_error "no such device" \
  "no available OpenCL device matches KILN_OPENCL_DEVICE='no-such-device'" -- \
  "$KILN" run "$llama" -p "ROMEO:" -n 2 --target opencl
finish
