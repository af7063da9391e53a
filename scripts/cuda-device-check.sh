#!/usr/bin/env bash
# The CUDA target on a GPU, in one short run on a machine that has no LLVM
# (the device tool's H100/H200): kiln-run, built here, runs artifacts
# compiled here with --target cuda, and their greedy ids are compared with
# the CPU target's, computed here.
#
#   here:   scripts/cuda-device-check.sh prepare llama|gpt2
#           -> build/cuda-check/: kiln-run, the libraries it links beyond
#              glibc (xz), the group's shared GGUFs, their artifacts
#              (--cuda-arch sm_90 --repack-at-load, xz) and the CPU's ids
#   there:  scripts/cuda-device-check.sh run   (carry build/cuda-check)
#
# One group per device call keeps what travels under 64 MiB. The artifacts
# name their GGUF by its path here under /tmp/kiln-cuda-check; `run` puts
# the carried copies there (the loader then checks their SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/cuda-check
fixed=/tmp/kiln-cuda-check

# name, GGUF under ../shared/models, greedy tokens (f32 64, the others 32).
cases() {
  case "$1" in
    llama) for t in f32:64 f16:32 q8_0:32 q4_0:32; do
             echo "llama-${t%%:*} tinyshakes-llama/tinyshakes-llama-${t%%:*}.gguf ${t##*:}"
           done ;;
    gpt2)  for t in f32:64 f16:32 q8_0:32 q4_0:32; do
             echo "gpt2-${t%%:*} tinyshakes-gpt2/tinyshakes-gpt2-${t%%:*}.gguf ${t##*:}"
           done ;;
    *) echo "usage: $0 prepare llama|gpt2" >&2; exit 2 ;;
  esac
}

prepare() {
  local group=$1 shared=../shared/models kiln=build/bin/kiln
  [ -x "$kiln" ] && [ -x build/bin/kiln-run ] || { echo "build kiln first" >&2; exit 1; }
  rm -rf "$dir" "$fixed"
  mkdir -p "$dir/lib" "$dir/models" "$dir/artifacts" "$fixed/models"
  strip -o "$dir/kiln-run" build/bin/kiln-run
  ldd build/bin/kiln-run | awk '/=> \// {print $3}' |
    grep -v -E '/lib(c|m|gcc_s|stdc\+\+|pthread|dl|rt)\.so' |
    while read -r lib; do cp -L "$lib" "$dir/lib/"; done
  tar -C "$dir" -cJf "$dir/lib.tar.xz" lib && rm -rf "$dir/lib"
  cases "$group" | while read -r name gguf tokens; do
    cp "$shared/$gguf" "$fixed/models/"
    cp "$shared/$gguf" "$dir/models/"
    local model=$fixed/models/$(basename "$gguf")
    "$kiln" compile "$model" --target cuda --cuda-arch sm_90 --repack-at-load \
      -o "$dir/artifacts/$name.kiln"
    "$kiln" run "$model" --target cpu -p "ROMEO:" -n "$tokens" --temp 0 --ids \
      >"$dir/artifacts/$name.ids" 2>/dev/null
    echo "$name $tokens" >>"$dir/cases"
  done
  tar -C "$dir" -cJf "$dir/artifacts.tar.xz" artifacts && rm -rf "$dir/artifacts"
  du -sh "$dir"
}

run() {
  mkdir -p "$fixed/models"
  cp "$dir"/models/*.gguf "$fixed/models/"
  tar -C "$fixed" -xJf "$dir/lib.tar.xz"
  tar -C "$fixed" -xJf "$dir/artifacts.tar.xz"
  export LD_LIBRARY_PATH=$fixed/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
  local failed=0
  while read -r name tokens; do
    local want got
    want=$(cat "$fixed/artifacts/$name.ids")
    if ! got=$("$dir/kiln-run" "$fixed/artifacts/$name.kiln" -p "ROMEO:" -n "$tokens" \
                 --temp 0 --ids 2>"$fixed/err"); then
      echo "FAIL $name: $(cat "$fixed/err")"
      failed=1
      continue
    fi
    if [ "$got" = "$want" ]; then
      echo "PASS $name: $tokens greedy ids equal the CPU target's"
    else
      echo "FAIL $name: cuda '$got'"
      echo "          cpu  '$want'"
      failed=1
    fi
  done <"$dir/cases"
  # The same ids without CUDA graphs (each kernel launched).
  read -r first tokens <"$dir/cases"
  if [ "$(KILN_CUDA_GRAPHS=0 "$dir/kiln-run" "$fixed/artifacts/$first.kiln" -p "ROMEO:" \
          -n "$tokens" --temp 0 --ids 2>"$fixed/err")" = "$(cat "$fixed/artifacts/$first.ids")" ]; then
    echo "PASS $first: the same ids with KILN_CUDA_GRAPHS=0"
  else
    echo "FAIL $first: other ids with KILN_CUDA_GRAPHS=0"
    failed=1
  fi
  # Speed, for the record: decode of 128 tokens from the first artifact,
  # with graphs and without.
  "$dir/kiln-run" "$fixed/artifacts/$first.kiln" -p "ROMEO:" -n 128 --temp 0 --timings \
    >/dev/null || failed=1
  KILN_CUDA_GRAPHS=0 "$dir/kiln-run" "$fixed/artifacts/$first.kiln" -p "ROMEO:" -n 128 \
    --temp 0 --timings >/dev/null || failed=1
  return $failed
}

case "${1:-}" in
  prepare) prepare "${2:-}" ;;
  run) run ;;
  *) echo "usage: $0 prepare llama|gpt2 | run" >&2; exit 2 ;;
esac
