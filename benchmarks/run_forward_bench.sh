#!/usr/bin/env bash
# The compiler-core benchmark: a TinyLlama-1.1B-shaped model from
# `kiln synth` in f16, q8_0 and q4_0, prefill of 128 tokens and 32 decode
# steps on 2 threads, with the machine's read bandwidth measured in the same
# run. With LLAMA_CPP_BIN set (a llama.cpp build's bin folder, built outside
# the repository), llama.cpp's llama-bench or llama-cli runs on the same
# files right after, for a side-by-side ratio.
# usage: benchmarks/run_forward_bench.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kiln-bench}
mkdir -p "$work"
vocab=../shared/models/vocab/ggml-vocab-llama-spm.gguf
for type in f16 q8_0 q4_0; do
  model="$work/tinyllama-$type.gguf"
  [ -f "$model" ] || build/bin/kiln synth --preset tinyllama-1.1b --type "$type" \
    --vocab "$vocab" -o "$model"
  build/bin/kiln_bench_forward "$model" -p 128 -n 32 -t 2 -r 3
  if [ -n "${LLAMA_CPP_BIN:-}" ]; then
    "$LLAMA_CPP_BIN/llama-cli" -m "$model" -p "$(printf 'word %.0s' {1..120})" \
      -n 32 -t 2 -no-cnv --temp 0 2>&1 | grep -E "prompt eval time|  eval time" |
      sed "s|^|llama.cpp $type: |"
  fi
done
