#!/usr/bin/env bash
# kiln perplexity --kl-base: KL divergence and top-token agreement of a
# model's distributions against a base model's on the same text. The f32
# model against itself is exactly 0 and 100%; q8_0 against f32 is small
# and agrees almost everywhere; q4_0 is further from f32 than q8_0.
source "$(dirname "$0")/lib.sh" "$@"
models=$SHARED/tinyshakes-llama
head -c 24000 "$models/val.txt" >"$WORK/text.txt"
for type in f32 q8_0 q4_0; do
  "$KILN" perplexity "$models/tinyshakes-llama-$type.gguf" -f "$WORK/text.txt" -c 128 \
    --kl-base "$models/tinyshakes-llama-f32.gguf" --json \
    >"$WORK/$type.json" 2>"$WORK/err" || fail "$type: $(cat "$WORK/err")"
done
python3 - "$WORK" <<'PY' || fail "KL numbers: $(cat "$WORK"/*.json)"
import json, os, sys
r = {t: json.load(open(os.path.join(sys.argv[1], t + ".json"))) for t in ("f32", "q8_0", "q4_0")}
for t, x in r.items():
    for key in ("kl_mean", "kl_error", "top1_agreement", "base_perplexity"):
        assert key in x, (t, key)
    assert x["scored_tokens"] == x["chunks"] * 63, (t, x)
    # The base's perplexity is that of the f32 model whatever is compared.
    assert x["base_perplexity"] == r["f32"]["perplexity"], (t, x)
assert r["f32"]["kl_mean"] == 0 and r["f32"]["kl_max"] == 0, r["f32"]
assert r["f32"]["top1_agreement"] == 1, r["f32"]
assert 0 < r["q8_0"]["kl_mean"] < 0.002, r["q8_0"]
assert r["q8_0"]["top1_agreement"] > 0.97, r["q8_0"]
assert r["q4_0"]["kl_mean"] > 2 * r["q8_0"]["kl_mean"], (r["q4_0"], r["q8_0"])
assert r["q4_0"]["top1_agreement"] > 0.85, r["q4_0"]
PY
"$KILN" perplexity "$models/tinyshakes-llama-q8_0.gguf" -f "$WORK/text.txt" -c 128 \
  --kl-base "$models/tinyshakes-llama-f32.gguf" >"$WORK/out" 2>"$WORK/err" ||
  fail "text output: $(cat "$WORK/err")"
grep -q "^KL divergence: mean " "$WORK/out" || fail "no KL line: $(cat "$WORK/out")"
grep -q "^same top token: " "$WORK/out" || fail "no top-token line: $(cat "$WORK/out")"
expect_error "other vocabulary" "do not share a vocabulary" -- \
  "$KILN" perplexity "$models/tinyshakes-llama-q8_0.gguf" -f "$WORK/text.txt" -c 128 \
  --kl-base "$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf"
expect_error "missing base" "nothing.gguf" -- \
  "$KILN" perplexity "$models/tinyshakes-llama-q8_0.gguf" -f "$WORK/text.txt" -c 128 \
  --kl-base "$WORK/nothing.gguf"
finish
