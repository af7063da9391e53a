#!/usr/bin/env bash
# `kiln help`, `kiln CMD --help` and unknown commands.
source "$(dirname "$0")/lib.sh" "$@"
"$KILN" help | grep -q "info" || fail "kiln help lists no info command"
"$KILN" help synth | grep -q -- "--preset" || fail "kiln help synth"
"$KILN" info --help | grep -q -- "--json" || fail "kiln info --help"
status=0; "$KILN" frobnicate >/dev/null 2>&1 || status=$?
[ "$status" -ne 0 ] && [ "$status" -lt 128 ] || fail "unknown command: $status"
finish
