#!/usr/bin/env bash
# Runs the GGUF reader fuzzer for a bounded time.
# usage: run_fuzzer.sh FUZZER SECONDS SHARED_MODELS_DIR
set -euo pipefail
fuzzer=$1 seconds=$2 shared=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/seeds"
# Seeds: our small hand-made files, past regressions, and the shared GGUFs.
cp "$here"/corpus/* "$work/seeds/"
find "$here/regressions" -type f ! -name '*.md' -exec cp {} "$work/seeds/" \;
find "$shared" -name '*.gguf' -size -3M -exec cp {} "$work/seeds/" \;
artifacts="${KILN_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/"
mkdir -p "$artifacts"
if ! "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
     -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 \
     "$work/corpus" "$work/seeds"; then
  echo "fuzzer found a failing input; it is in $artifacts" >&2
  echo "copy it into tests/fuzz/regressions/ once fixed" >&2
  exit 1
fi
