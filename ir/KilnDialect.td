//===- KilnDialect.td - the kiln dialect ------------------------*- tablegen -*-===//
//
// The kiln dialect describes a transformer language model as a graph: token
// embedding, norms, matmuls against (quantized) weights, rope, attention over
// a KV cache, activations. Activations are builtin tensors whose leading
// dimension is the number of tokens in flight (dynamic); weights are
// `!kiln.weight` values that name a GGUF tensor and carry its block type.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT
#define KILN_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let summary = "Transformer language model graphs compiled by kiln";
  let description = [{
    One `func.func` per entry point (`prefill`, `decode`) whose body reads
    top to bottom like the model. Ops are target independent: no CPU, CUDA
    or OpenCL assumption appears here.
  }];
  let cppNamespace = "::kiln::ir";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

// The storage types of GGUF weights this dialect can describe (ggml's names).
def Kiln_WeightFormat : I32EnumAttr<"WeightFormat", "GGUF weight storage type", [
    I32EnumAttrCase<"f32", 0>,
    I32EnumAttrCase<"f16", 1>,
    I32EnumAttrCase<"q4_0", 2>,
    I32EnumAttrCase<"q4_1", 3>,
    I32EnumAttrCase<"q5_0", 6>,
    I32EnumAttrCase<"q5_1", 7>,
    I32EnumAttrCase<"q8_0", 8>,
    I32EnumAttrCase<"q2_K", 10>,
    I32EnumAttrCase<"q3_K", 11>,
    I32EnumAttrCase<"q4_K", 12>,
    I32EnumAttrCase<"q5_K", 13>,
    I32EnumAttrCase<"q6_K", 14>,
    I32EnumAttrCase<"bf16", 30>
  ]> {
  // The case values are ggml's type ids, so conversion is a cast.
  let cppNamespace = "::kiln::ir";
  let genSpecializedAttr = 0;
}

def Kiln_RopeMode : I32EnumAttr<"RopeMode", "how rope pairs head dimensions", [
    I32EnumAttrCase<"normal", 0>, // adjacent pairs (x[2i], x[2i+1])
    I32EnumAttrCase<"neox", 2>    // halves (x[i], x[i + n/2])
  ]> {
  let cppNamespace = "::kiln::ir";
  let genSpecializedAttr = 0;
}

def Kiln_RopeModeAttr : EnumAttr<Kiln_Dialect, Kiln_RopeMode, "rope_mode">;

// What a fused matmul does to its products before storing them.
def Kiln_MatmulEpilogue : I32EnumAttr<"MatmulEpilogue", "fused matmul epilogue", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"swiglu", 1>, // silu(x W0^T) * (x W1^T): one result
    I32EnumAttrCase<"gelu", 2>    // gelu of each product (after the bias)
  ]> {
  let cppNamespace = "::kiln::ir";
  let genSpecializedAttr = 0;
}

def Kiln_MatmulEpilogueAttr
    : EnumAttr<Kiln_Dialect, Kiln_MatmulEpilogue, "epilogue">;

#endif // KILN_DIALECT
