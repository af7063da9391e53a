#!/usr/bin/env bash
# Runs the JSON header fuzzer (safetensors headers, config.json) for a
# bounded time from tests/fuzz/json-corpus and json-regressions.
# usage: run_json_fuzzer.sh FUZZER SECONDS
set -euo pipefail
fuzzer=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
artifacts="${KILN_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/"
mkdir -p "$artifacts"
if ! "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
     -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 \
     "$work/corpus" "$here/json-corpus" "$here/json-regressions"; then
  echo "fuzzer found a failing input; it is in $artifacts" >&2
  echo "copy it into tests/fuzz/json-regressions/ once fixed" >&2
  exit 1
fi
