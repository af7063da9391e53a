#!/usr/bin/env bash
# `kiln synth` writes a model that `kiln info` reads; bad arguments fail
# clearly and leave no file behind.
source "$(dirname "$0")/lib.sh" "$@"
vocab="$SHARED/vocab/ggml-vocab-llama-spm.gguf"

"$KILN" synth --preset tiny --type q4_0 --vocab "$vocab" -o "$WORK/tiny.gguf" \
  --seed 3 2>"$WORK/err" || { fail "synth"; cat "$WORK/err" >&2; }
"$KILN" info --json "$WORK/tiny.gguf" | python3 -c '
import json, sys
info = json.load(sys.stdin)
assert info["architecture"] == "llama"
assert info["metadata"]["general.file_type"] == 2
assert info["totals"]["tensors_by_type"] == {"f32": 5, "q4_0": 16}
assert info["tokenizer"]["tokens"] == 32000
' || fail "synth output"

expect_error preset "unknown preset 'huge'" -- \
  "$KILN" synth --preset huge --vocab "$vocab" -o "$WORK/x.gguf"
expect_error type "synth writes f32, f16, q8_0 or q4_0" -- \
  "$KILN" synth --preset tiny --type q6_K --vocab "$vocab" -o "$WORK/x.gguf"
expect_error vocab-size "needs a 32000-token vocabulary" -- \
  "$KILN" synth --preset tinyllama-1.1b --vocab \
  "$SHARED/vocab/ggml-vocab-gpt-2.gguf" -o "$WORK/x.gguf"
[ ! -e "$WORK/x.gguf" ] || fail "a failed synth left a file"
ls "$WORK" | grep -q tmp && fail "a temporary file was left behind"
finish
