#!/usr/bin/env bash
# Runs the kernel cache reader fuzzer for a bounded time.
# usage: run_kernel_cache_fuzzer.sh FUZZER SECONDS
set -euo pipefail
fuzzer=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/tmp"
artifacts="${KILN_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/"
mkdir -p "$artifacts"
if ! TMPDIR="$work/tmp" "$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
     -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 \
     "$work/corpus" "$here/kernel-cache-corpus"; then
  echo "fuzzer found a failing input; it is in $artifacts" >&2
  echo "add it to tests/fuzz/kernel-cache-corpus/ once fixed" >&2
  exit 1
fi
