#!/usr/bin/env bash
# Runs the text-input fuzzer (readTextFile + every tokenizer kind) for a
# bounded time, seeded with llama.cpp's tokenizer test texts.
# usage: run_text_fuzzer.sh FUZZER SECONDS SHARED_MODELS_DIR
set -euo pipefail
fuzzer=$1 seconds=$2 shared=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/seeds"
# One seed per test text (the .inp files separate them with a marker line).
python3 - "$shared/vocab/ggml-vocab-gpt-2.gguf.inp" "$work/seeds" <<'PY'
import sys
texts = open(sys.argv[1], "rb").read().split(b"\n__ggml_vocab_test__\n")
for i, text in enumerate(texts):
    open(f"{sys.argv[2]}/text-{i}", "wb").write(text)
PY
printf '<s>hi</s>[CLS]<|endoftext|>\xff\xfe' >"$work/seeds/special"
artifacts="${KILN_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/"
mkdir -p "$artifacts"
if ! KILN_FUZZ_VOCAB_DIR="$shared/vocab" "$fuzzer" -max_total_time="$seconds" \
     -max_len=4096 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" \
     -print_final_stats=1 "$work/corpus" "$work/seeds"; then
  echo "fuzzer found a failing input; it is in $artifacts" >&2
  exit 1
fi
