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
# --target cuda: the NVPTX module, each kernel a PTX entry (marked a kernel
# in nvvm.annotations) with no x86 intrinsic; the libm calls (rope's
# cosf/sinf, GELU's tanhf, softmax's expf) are libdevice's, linked and
# inlined: no libm declaration is left, and sinf/cosf bring libdevice's
# argument-reduction table.
"$KILN" compile "$model" --target cuda --emit llvm -o "$WORK/cuda.ll" 2>"$WORK/err" ||
  fail "compile --target cuda --emit llvm: $(cat "$WORK/err")"
grep -q '^target triple = "nvptx64-nvidia-cuda"' "$WORK/cuda.ll" || fail "cuda IR is not NVPTX"
grep -q "^define void @kiln_0_embedding(" "$WORK/cuda.ll" || fail "no cuda embedding entry"
grep -q '!"kernel", i32 1' "$WORK/cuda.ll" || fail "no entry marked a kernel"
! grep -q "llvm.x86" "$WORK/cuda.ll" || fail "x86 intrinsics in the NVPTX module"
gpt2=$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf
"$KILN" compile "$gpt2" --target cuda --emit llvm -o "$WORK/gpt2.ll" 2>"$WORK/err" ||
  fail "compile gpt2 --target cuda --emit llvm: $(cat "$WORK/err")"
grep -q "@__cudart_i2opi_f" "$WORK/cuda.ll" || fail "no libdevice sinf/cosf in llama's rope"
! grep -q -E "^declare .*@(__nv_)?(expf|tanhf|sinf|cosf)\(" "$WORK/cuda.ll" "$WORK/gpt2.ll" ||
  fail "a libm function is left undefined for the GPU"
"$KILN" compile "$model" --emit mlir -o "$WORK/graph.mlir" || fail "compile --emit mlir"
grep -q "kiln.matmul" "$WORK/graph.mlir" || fail "--emit mlir lacks matmuls"
expect_error "unknown --emit" "emit" -- "$KILN" compile "$model" --emit exe
exit $((failures > 0))
