#!/usr/bin/env bash
# Runs a fuzzer for a bounded time from tests/fuzz/NAME-corpus and, where it
# exists, NAME-regressions (fixed finds, replayed every run).
# usage: run_corpus_fuzzer.sh FUZZER SECONDS NAME MAX_LEN
set -euo pipefail
fuzzer=$1 seconds=$2 name=$3 max_len=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/tmp"
corpora=("$work/corpus" "$here/$name-corpus")
[ -d "$here/$name-regressions" ] && corpora+=("$here/$name-regressions")
artifacts="${KILN_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/"
mkdir -p "$artifacts"
# TMPDIR inside the run's folder: fuzzers that write files leave none behind.
if ! TMPDIR="$work/tmp" "$fuzzer" -max_total_time="$seconds" -max_len="$max_len" \
     -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" \
     -print_final_stats=1 "${corpora[@]}"; then
  echo "fuzzer found a failing input; it is in $artifacts" >&2
  echo "copy it into tests/fuzz/$name-regressions/ once fixed" >&2
  exit 1
fi
