#!/usr/bin/env bash
# `kiln quantize` through the CLI: the f32 tinyshakes model quantized to each
# recipe llama.cpp's files were made with is the same file, byte for byte;
# bad input fails clearly and overwrites nothing.
source "$(dirname "$0")/lib.sh" "$@"
models="$SHARED/tinyshakes-llama"
f32="$models/tinyshakes-llama-f32.gguf"

for type in q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k; do
  out="$WORK/$type.gguf"
  if ! "$KILN" quantize "$f32" "$out" "$type" -t 2 2>"$WORK/err"; then
    fail "quantize $type"
    cat "$WORK/err" >&2
  elif ! cmp -s "$out" "$models/tinyshakes-llama-$type.gguf"; then
    fail "$type: differs from llama-quantize's file"
  fi
done
# GPT-2 (fused QKV, tied output): its shared q4_0/q8_0 files too.
gpt2="$SHARED/tinyshakes-gpt2/tinyshakes-gpt2"
for type in q4_0 q8_0; do
  "$KILN" quantize "$gpt2-f32.gguf" "$WORK/gpt2-$type.gguf" "$type" \
    2>/dev/null || fail "quantize gpt2 $type"
  cmp -s "$WORK/gpt2-$type.gguf" "$gpt2-$type.gguf" ||
    fail "gpt2 $type: differs from the shared file"
done
grep -q "quantize: wrote .*q6_k.gguf (Q6_K: 9 f32, 30 q6_K)" "$WORK/err" ||
  fail "summary line: $(cat "$WORK/err")"

"$KILN" info --json "$WORK/q4_k_m.gguf" | python3 -c '
import json, sys
info = json.load(sys.stdin)
meta = info["metadata"]
assert meta["general.file_type"] == 15, meta["general.file_type"]
assert meta["general.quantization_version"] == 2
assert info["totals"]["tensors_by_type"] == {"f32": 9, "q4_K": 25, "q6_K": 5}
' || fail "q4_k_m metadata"

# --pure and explicit types.
"$KILN" quantize --pure --output-type q8_0 --token-embedding-type Q6_K \
  "$f32" "$WORK/pure.gguf" Q4_K 2>/dev/null || fail "quantize --pure"
"$KILN" info --json "$WORK/pure.gguf" | python3 -c '
import json, sys
tensors = {t["name"]: t["type"] for t in json.load(sys.stdin)["tensors"]}
assert tensors["output.weight"] == "q8_0"
assert tensors["token_embd.weight"] == "q6_K"
assert tensors["blk.3.attn_v.weight"] == "q4_K"
assert tensors["blk.0.attn_norm.weight"] == "f32"
' || fail "--pure types"

# Quantized input is dequantized first, and says so.
"$KILN" quantize "$models/tinyshakes-llama-q8_0.gguf" "$WORK/requant.gguf" \
  q4_0 2>"$WORK/err" || fail "requantize"
grep -q "dequantized to f32 first" "$WORK/err" || fail "requantize note"

# Errors: nothing is written or overwritten.
echo keep >"$WORK/kept.gguf"
expect_error type "unknown quantization type 'q4_k_x'" -- \
  "$KILN" quantize "$f32" "$WORK/kept.gguf" q4_k_x
expect_error missing "missing.gguf" -- \
  "$KILN" quantize "$WORK/missing.gguf" "$WORK/kept.gguf" q4_0
expect_error same "is the input" -- \
  "$KILN" quantize "$WORK/kept.gguf" "$WORK/./kept.gguf" q4_0
expect_error output-type "--output-type q9_9: unknown tensor type" -- \
  "$KILN" quantize --output-type q9_9 "$f32" "$WORK/kept.gguf" q4_0
expect_error output-type-unwritable "kiln cannot write iq2_xxs" -- \
  "$KILN" quantize --output-type iq2_xxs "$f32" "$WORK/kept.gguf" q4_0
expect_error not-gguf "not a GGUF\|magic" -- \
  "$KILN" quantize "$WORK/kept.gguf" "$WORK/other.gguf" q4_0
expect_error usage "type is required\|required" -- \
  "$KILN" quantize "$f32" "$WORK/kept.gguf"

# Rows of 8 values fit no quantized block; llama-quantize refuses too.
expect_error no-fallback "tensor 'output.weight': rows of 8 values are not a whole number of q8_0 blocks" -- \
  "$KILN" quantize "$SHARED/llama-2-tiny-random/llama-2-tiny-random.gguf" \
  "$WORK/kept.gguf" q4_k_m

# A matrix in a type kiln cannot read (iq2_xxs) that the recipe converts.
python3 - "$WORK/iq2.gguf" <<'EOF'
import struct, sys
def s(text):
    return struct.pack("<Q", len(text)) + text.encode()
header = b"GGUF" + struct.pack("<Iqq", 3, 1, 1)
header += s("general.architecture") + struct.pack("<I", 8) + s("llama")
header += s("blk.0.attn_q.weight") + struct.pack("<I", 2)
header += struct.pack("<qq", 256, 2) + struct.pack("<IQ", 16, 0)
header += b"\0" * (-len(header) % 32)
open(sys.argv[1], "wb").write(header + b"\0" * 132 + b"\0" * (-132 % 32))
EOF
expect_error unreadable "tensor 'blk.0.attn_q.weight': cannot read iq2_xxs" -- \
  "$KILN" quantize "$WORK/iq2.gguf" "$WORK/kept.gguf" q4_0

[ "$(cat "$WORK/kept.gguf")" = keep ] || fail "a failed quantize overwrote the output"
[ ! -e "$WORK/other.gguf" ] || fail "a failed quantize left a file"
ls "$WORK" | grep -q tmp && fail "a temporary file was left behind"
finish
