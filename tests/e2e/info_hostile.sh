#!/usr/bin/env bash
# `kiln info` on broken files: a clear error naming the file and problem,
# exit status 1, never a crash.
source "$(dirname "$0")/lib.sh" "$@"
model="$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf"

expect_error missing "cannot open" -- "$KILN" info "$WORK/nope.gguf"
expect_error directory "is a directory, not a regular file" -- "$KILN" info "$WORK"
: >"$WORK/empty.gguf"
expect_error empty "empty.gguf: at byte 0: file ends inside the magic" -- \
  "$KILN" info "$WORK/empty.gguf"
printf 'GGML\3\0\0\0' >"$WORK/magic.gguf"
expect_error magic "bad magic" -- "$KILN" info "$WORK/magic.gguf"
head -c 100000 "$model" >"$WORK/truncated.gguf"
expect_error truncated "truncated.gguf: at byte" -- \
  "$KILN" info "$WORK/truncated.gguf"
head -c 2000000 "$model" >"$WORK/short-data.gguf"
expect_error short-data "lies outside the data section" -- \
  "$KILN" info "$WORK/short-data.gguf"
# The version field patched to 1.
python3 - "$model" "$WORK/v1.gguf" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[4:8] = (1).to_bytes(4, "little")
open(sys.argv[2], "wb").write(data)
PY
expect_error version "version 1 is not supported" -- "$KILN" info "$WORK/v1.gguf"
expect_error no-args "model is required" -- "$KILN" info
finish
