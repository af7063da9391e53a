#!/usr/bin/env bash
# `kiln tokenize --ids` prints llama.cpp's ids for every text of the shared
# tokenizer test vectors, `kiln detokenize` gives SPM and BPE text back byte
# for byte, and bad input fails clearly.
source "$(dirname "$0")/lib.sh" "$@"

for name in llama-spm phi-3 gpt-2 deepseek-coder bert-bge; do
  model="$SHARED/vocab/ggml-vocab-$name.gguf"
  mkdir -p "$WORK/$name"
  # One file per text: the texts are separated by "\n__ggml_vocab_test__\n",
  # which also ends the file.
  python3 - "$model.inp" "$WORK/$name" <<'PY' || { fail "$name: split"; continue; }
import sys
data = open(sys.argv[1], "rb").read()
texts = data.split(b"\n__ggml_vocab_test__\n")
assert texts[-1] == b"", "no final separator"
for i, text in enumerate(texts[:-1]):
    open(f"{sys.argv[2]}/{i:02d}.txt", "wb").write(text)
PY
  matched=0 total=0
  while IFS= read -r expected; do
    text="$WORK/$name/$(printf %02d "$total").txt"
    total=$((total + 1))
    if ! got=$("$KILN" tokenize --ids --no-bos -f "$text" "$model" 2>"$WORK/err"); then
      fail "$name text $total: tokenize failed"; cat "$WORK/err" >&2; continue
    fi
    # .out lines start with a space; compare the id lists.
    if [ "$(echo $got)" = "$(echo $expected)" ]; then
      matched=$((matched + 1))
    else
      fail "$name text $total: got '$got', expected '$expected'"
    fi
    # SPM and byte-level BPE decode back to the text (WPM is lossy); the
    # unit tests check every text, here the last (the longest) one.
    if [ "$name" != bert-bge ] && [ "$total" -eq 46 ]; then
      "$KILN" detokenize "$model" $got >"$WORK/back" 2>"$WORK/err" &&
        cmp -s "$WORK/back" "$text" || fail "$name text $total: no round trip"
    fi
  done <"$model.out"
  [ "$total" -eq 46 ] || fail "$name: $total texts, expected 46"
  echo "$name: $matched/$total texts match"
done

spm="$SHARED/vocab/ggml-vocab-llama-spm.gguf"
# The default adds BOS; a text may start with '-' after '--'.
[ "$("$KILN" tokenize --ids "$spm" -- "-x")" = "1 448 29916" ] ||
  fail "BOS and a text starting with -"
[ "$("$KILN" tokenize --ids --no-bos "$spm" "")" = "" ] || fail "empty text"
printf 'Hello' | "$KILN" tokenize --ids -f - "$spm" >"$WORK/stdin" &&
  [ "$(cat "$WORK/stdin")" = "1 15043" ] || fail "text from standard input"
# Pieces are readable: the space SPM adds, a backslash escaped.
"$KILN" tokenize "$spm" 'a\b' >"$WORK/pieces"
printf '1\t<s>\n263\t a\n29905\t\\\\\n29890\tb\n' | cmp -s - "$WORK/pieces" ||
  fail "ID<TAB>PIECE lines"
gpt2="$SHARED/vocab/ggml-vocab-gpt-2.gguf"
[ "$("$KILN" tokenize --ids --parse-special "$gpt2" "<|endoftext|>")" = "50256" ] ||
  fail "--parse-special"
[ "$("$KILN" detokenize "$gpt2" 50256 15496)" = "Hello" ] || fail "control token shown"
[ "$("$KILN" detokenize --special "$gpt2" 50256 15496)" = "<|endoftext|>Hello" ] ||
  fail "--special"

expect_error out-of-range "token id 32000 is outside the vocabulary" -- \
  "$KILN" detokenize "$spm" 1 32000
expect_error negative "token id -3 is outside the vocabulary" -- \
  "$KILN" detokenize "$spm" -3
expect_error not-an-id "'12x' is not a list of token ids" -- \
  "$KILN" detokenize "$spm" 12x
expect_error no-text "give the text or -f FILE" -- "$KILN" tokenize "$spm"
expect_error both "give the text or -f FILE" -- \
  "$KILN" tokenize "$spm" hi -f "$WORK/stdin"
expect_error missing-file "nope.txt: cannot open" -- \
  "$KILN" tokenize "$spm" -f "$WORK/nope.txt"
printf 'not a gguf file' >"$WORK/bad.gguf"
expect_error bad-model "bad.gguf" -- "$KILN" tokenize "$WORK/bad.gguf" hi
# A GGUF file without a tokenizer: version 3, no tensors, one key.
python3 - "$WORK/no-vocab.gguf" <<'PY'
import struct, sys
key, value = b"general.architecture", b"llama"
data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
data += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(value)) + value
open(sys.argv[1], "wb").write(data)
PY
expect_error no-tokenizer "no-vocab.gguf: metadata key 'tokenizer.ggml.model' is missing" -- \
  "$KILN" tokenize "$WORK/no-vocab.gguf" hi
finish
