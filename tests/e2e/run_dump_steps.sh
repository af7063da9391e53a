#!/usr/bin/env bash
# kiln run --dump-steps: every kernel call's activation output lands in the
# folder with its call, entry point, step and kernel in the name, sized by
# its rows; a missing folder is a usage error.
source "$(dirname "$0")/lib.sh" "$@"
model=$SHARED/tinyshakes-llama/tinyshakes-llama-f32.gguf
mkdir "$WORK/dump"
"$KILN" run "$model" -p "ROMEO:" -n 2 --temp 0 --dump-steps "$WORK/dump" \
  >"$WORK/out" 2>"$WORK/err" || fail "run with --dump-steps: $(cat "$WORK/err")"
size() { stat -c %s "$WORK/dump/$1" 2>/dev/null || echo missing; }
# "ROMEO:" is 3 tokens with BOS; the model is 256 wide with 1000 tokens.
[ "$(size 0-prefill-0-embedding.bin)" = 3072 ] ||
  fail "prefill embedding: $(size 0-prefill-0-embedding.bin) bytes, expected 3 x 256 x 4"
[ "$(size 1-decode-0-embedding.bin)" = 1024 ] ||
  fail "decode embedding: $(size 1-decode-0-embedding.bin) bytes, expected 256 x 4"
logits=$(ls "$WORK/dump" | grep '^0-prefill-' | sort -t- -k3 -n | tail -1)
[ "$(size "$logits")" = 4000 ] || fail "prefill logits $logits: $(size "$logits") bytes"
prefill=$(ls "$WORK/dump" | grep -c '^0-prefill-')
decode=$(ls "$WORK/dump" | grep -c '^1-decode-')
# Decode lacks prefill's last_row step.
[ "$prefill" -gt 20 ] && [ "$decode" = $((prefill - 1)) ] ||
  fail "expected one decode dump fewer than prefill dumps, got $prefill and $decode"
expect_error "missing folder" "Directory does not exist" -- \
  "$KILN" run "$model" -p x --dump-steps "$WORK/nowhere"
exit $((failures > 0))
