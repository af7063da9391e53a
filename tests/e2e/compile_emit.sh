#!/usr/bin/env bash
# kiln compile --emit llvm: the generated kernels as optimized LLVM IR, one
# function per kernel of the plan, integer dot products on q8 activations
# for quantized weights; written atomically with -o.
source "$(dirname "$0")/lib.sh" "$@"
model=$SHARED/tinyshakes-llama/tinyshakes-llama-q4_k_m.gguf
"$KILN" compile "$model" --emit llvm -o "$WORK/kernels.ll" 2>"$WORK/err" ||
  fail "compile --emit llvm: $(cat "$WORK/err")"
grep -q "^define void @kiln_0_embedding(" "$WORK/kernels.ll" || fail "no embedding kernel"
grep -q "^define void @kiln_[0-9]*_quantize_activations(" "$WORK/kernels.ll" ||
  fail "no activation quantization kernel"
if grep -q avx2 /proc/cpuinfo; then
  grep -q "llvm.x86.avx2.pmadd.ub.sw" "$WORK/kernels.ll" || fail "no vpmaddubsw on an AVX2 host"
fi
"$KILN" compile "$model" --emit mlir -o "$WORK/graph.mlir" || fail "compile --emit mlir"
grep -q "kiln.matmul" "$WORK/graph.mlir" || fail "--emit mlir lacks matmuls"
expect_error "unknown --emit" "emit" -- "$KILN" compile "$model" --emit exe
exit $((failures > 0))
