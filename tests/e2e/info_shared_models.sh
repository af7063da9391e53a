#!/usr/bin/env bash
# `kiln info` works on every GGUF in ../shared/models, as text and as JSON.
source "$(dirname "$0")/lib.sh" "$@"

count=0
while IFS= read -r model; do
  count=$((count + 1))
  if ! "$KILN" info "$model" >"$WORK/info.txt" 2>"$WORK/err"; then
    fail "info $model"; cat "$WORK/err" >&2; continue
  fi
  grep -q "^tensors (" "$WORK/info.txt" || fail "$model: no tensor table"
  grep -q "bits per weight" "$WORK/info.txt" || fail "$model: no totals"
  if ! "$KILN" info --json "$model" >"$WORK/info.json"; then
    fail "info --json $model"; continue
  fi
  python3 - "$WORK/info.json" "$model" <<'PY' || fail "$model: bad JSON"
import json, sys
info = json.load(open(sys.argv[1]))
assert info["file"] == sys.argv[2]
for key in ("architecture", "hyperparameters", "tokenizer", "metadata",
            "tensors", "totals"):
    assert key in info, key
assert info["totals"]["tensors"] == len(info["tensors"])
assert sum(t["bytes"] for t in info["tensors"]) == info["totals"]["bytes"]
tokens = info["metadata"].get("tokenizer.ggml.tokens")
if tokens:  # long arrays are abbreviated, their length kept
    assert tokens["length"] == info["tokenizer"]["tokens"]
    assert len(tokens["head"]) <= 8
PY
done < <(find "$SHARED" -name '*.gguf' | sort)
[ "$count" -ge 20 ] || fail "only $count GGUF files found under $SHARED"

# Facts about one file, checked against its README.
"$KILN" info --json "$SHARED/tinyshakes-llama/tinyshakes-llama-q4_0.gguf" |
  python3 -c '
import json, sys
info = json.load(sys.stdin)
assert info["architecture"] == "llama"
assert info["hyperparameters"]["embedding_length"] == 256
assert info["totals"]["tensors_by_type"] == {"f32": 9, "q4_0": 29, "q6_K": 1}
assert info["tokenizer"]["tokens"] == 1000
out = [t for t in info["tensors"] if t["name"] == "output.weight"][0]
assert out["type"] == "q6_K" and out["shape"] == [256, 1000]
' || fail "tinyshakes-llama-q4_0 facts"
finish
