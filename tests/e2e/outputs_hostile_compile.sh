#!/usr/bin/env bash
# The compiler's commands never write over their model: `kiln compile M
# --emit mlir|llvm|plan -o M` (any path form) and `kiln bench M --plot M`
# are refused before any work, the model byte for byte as before.
source "$(dirname "$0")/lib.sh" "$@"
KILN=$(realpath "$KILN") # some commands run from another folder
cp "$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf" "$WORK/model.gguf"
mkdir "$WORK/links"
ln -s "$WORK/model.gguf" "$WORK/links/soft.gguf"
ln "$WORK/model.gguf" "$WORK/links/hard.gguf"
before=$(sha256sum <"$WORK/model.gguf")

check() { # NAME
  [ "$(sha256sum <"$WORK/model.gguf")" = "$before" ] || fail "$1: the model changed"
  [ -z "$(ls -a "$WORK" "$WORK/links" | grep 'tmp\.kiln-')" ] ||
    fail "$1: a temporary was left"
}

for emit in mlir llvm plan; do
  for out in "$WORK/model.gguf" "$WORK/./model.gguf" "$WORK/links/../model.gguf" \
             "$WORK/links/soft.gguf" "$WORK/links/hard.gguf"; do
    expect_error "compile --emit $emit -o $out" "is the input .*; choose another output" -- \
      timeout 300 "$KILN" compile "$WORK/model.gguf" --emit "$emit" -o "$out"
    check "compile --emit $emit -o $out"
  done
done
expect_error "compile relative" "is the input" -- \
  bash -c 'cd "$1" && exec timeout 300 "$2" compile model.gguf --emit mlir -o ./model.gguf' \
  _ "$WORK" "$KILN"
check "compile relative"
# Another file is written as before.
timeout 300 "$KILN" compile "$WORK/model.gguf" --emit plan -o "$WORK/plan.txt" 2>"$WORK/err" ||
  fail "compile --emit plan -o plan.txt: $(cat "$WORK/err")"
[ -s "$WORK/plan.txt" ] || fail "no plan written"

# bench --plot wants a .svg name; a model may carry one.
cp "$WORK/model.gguf" "$WORK/model.svg"
expect_error "bench --plot the model" "--plot .*is the input" -- \
  timeout 300 "$KILN" bench "$WORK/model.svg" --plot "$WORK/links/../model.svg"
cmp -s "$WORK/model.svg" "$WORK/model.gguf" || fail "bench: the model changed"
check bench
finish
