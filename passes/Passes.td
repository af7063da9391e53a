//===- Passes.td - kiln graph passes -----------------------------*- tablegen -*-===//
//
// The fusion passes rewrite plain ops (kiln.matmul, kiln.rms_norm,
// kiln.rope, ...) into kiln.fused_matmul and kiln.flash_attention, so that
// codegen emits one kernel where the unfused graph needs several and no
// intermediate is written out. Each is switchable (--disable-pass=NAME,
// --no-fuse) and each is tested on its own (tests/lit/passes) and for
// equal logits on and off (tests/unit/FusionEquivalenceTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_PASSES
#define KILN_PASSES

include "mlir/Pass/PassBase.td"

class Kiln_FunctionPass<string name> : Pass<name, "::mlir::func::FuncOp"> {
  let dependentDialects = ["::kiln::ir::KilnDialect"];
}

def FuseSwiglu : Kiln_FunctionPass<"kiln-fuse-swiglu"> {
  let summary = "Fuse the gated FFN: silu(x Wg) * (x Wu) as one matmul epilogue";
  let description = [{
    `kiln.mul(kiln.silu(kiln.matmul(%x, %wg)), kiln.matmul(%x, %wu))` becomes
    one `kiln.fused_matmul %x, [%wg, %wu]` with `epilogue = swiglu`: each
    output column's gate and up products meet in registers; the gate, its
    SiLU and the up projection are never stored.
  }];
}

def FuseQkv : Kiln_FunctionPass<"kiln-fuse-qkv"> {
  let summary = "Fuse matmuls that read the same input into one (Q, K, V)";
  let description = [{
    Plain `kiln.matmul`s with one input, weights that need the same input
    conversion and all or none with a bias become one `kiln.fused_matmul`
    with a result per weight: the input is converted (quantized) once and
    the kernel is called once.
  }];
}

def FuseGelu : Kiln_FunctionPass<"kiln-fuse-gelu"> {
  let summary = "Fuse GELU into the epilogue of the matmul it follows";
}

def FuseRope : Kiln_FunctionPass<"kiln-fuse-rope"> {
  let summary = "Apply rope in the epilogue of the matmul that makes q and k";
  let description = [{
    `kiln.rope` of a matmul result (normal pairing: each pair lies within
    one tile of output columns) is done by the matmul kernel on the tile it
    has just written. NeoX pairing (halves of a head) stays a separate op.
  }];
}

def FuseResidual : Kiln_FunctionPass<"kiln-fuse-residual"> {
  let summary = "Add the residual in the epilogue of the output projections";
  let description = [{
    `kiln.add(%x, matmul(...))` becomes `fused_matmul ... residual(%x)`
    when the matmul's result has no other use.
  }];
}

def FuseNorm : Kiln_FunctionPass<"kiln-fuse-norm"> {
  let summary = "Compute RMSNorm/LayerNorm in the prologue of the matmuls it feeds";
  let description = [{
    A norm whose every user is a matmul input moves into those matmuls'
    prologue: the normalized row goes straight into the form the matmul
    reads (q8 blocks, f16-rounded or f32) and no normalized copy is stored.
  }];
}

def FlashAttention : Kiln_FunctionPass<"kiln-flash-attention"> {
  let summary = "Attention in one pass with an online softmax, in tiles";
  let description = [{
    `kiln.attention` becomes `kiln.flash_attention`: no row of scores is
    stored; the result differs from llama.cpp's by float reassociation.
  }];
}

#endif // KILN_PASSES
