//===- KilnOps.td - kiln operations ------------------------------*- tablegen -*-===//
//
// Activations are 2-D f32 tensors `[tokens, features]`; the token count is
// usually dynamic (`?`) in prefill and 1 in decode. Each op states what it
// computes in the terms llama.cpp uses, since outputs are compared with it.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_OPS
#define KILN_OPS

include "KilnTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, traits>;

def Kiln_Activation : 2DTensorOf<[F32]>;
def Kiln_TokenIds : 1DTensorOf<[I32]>;

// The KV cache is state shared by all attention ops of a module, one slot
// per layer; attention both writes and reads it.
def Kiln_KVCache : Resource<"::kiln::ir::KVCacheResource">;

def Kiln_WeightOp : Kiln_Op<"weight", [Pure]> {
  let summary = "a weight of the model file, by GGUF tensor name";
  let description = [{
    ```mlir
    %w = kiln.weight "blk.0.attn_q.weight" : !kiln.weight<[256, 256], q8_0>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Kiln_WeightType:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Kiln_EmbeddingOp : Kiln_Op<"embedding", [Pure]> {
  let summary = "rows of a table selected by token ids";
  let description = [{
    `result[i, :] = table[ids[i], :]`, dequantized to f32.
  }];
  let arguments = (ins Kiln_WeightType:$table, Kiln_TokenIds:$ids);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_PositionsOp : Kiln_Op<"positions", [Pure]> {
  let summary = "the positions start, start+1, ... of the tokens in flight";
  let description = [{
    One i32 per row of `like`: `result[i] = start + i`. Feeds learned
    position embeddings.
  }];
  let arguments = (ins Index:$start, Kiln_Activation:$like);
  let results = (outs Kiln_TokenIds:$result);
  let assemblyFormat = [{
    $start `,` $like attr-dict `:` type($like) `->` type($result)
  }];
}

def Kiln_RmsNormOp : Kiln_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization of each row, scaled by a weight";
  let description = [{
    `result[i, :] = input[i, :] / sqrt(mean(input[i, :]^2) + epsilon) * weight`
  }];
  let arguments = (ins Kiln_Activation:$input, Kiln_WeightType:$weight,
                       F32Attr:$epsilon);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def Kiln_LayerNormOp : Kiln_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>,
                                              AllTypesMatch<["weight", "bias"]>]> {
  let summary = "layer normalization of each row, with weight and bias";
  let description = [{
    `result[i, :] = (x - mean(x)) / sqrt(var(x) + epsilon) * weight + bias`
    with `x = input[i, :]` and the biased variance.
  }];
  let arguments = (ins Kiln_Activation:$input, Kiln_WeightType:$weight,
                       Kiln_WeightType:$bias, F32Attr:$epsilon);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def Kiln_MatmulOp : Kiln_Op<"matmul", [Pure]> {
  let summary = "input times the transpose of a (quantized) weight, plus bias";
  let description = [{
    With `input : [T, K]` and `weight : [N, K]`,
    `result[t, n] = sum_k input[t, k] * weight[n, k] + bias[n]`.
    The weight is read in its storage format; no dequantized copy is made.
  }];
  let arguments = (ins Kiln_Activation:$input, Kiln_WeightType:$weight,
                       Optional<Kiln_WeightType>:$bias);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

class Kiln_ElementwiseBinaryOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise " # what;
  let arguments = (ins Kiln_Activation:$lhs, Kiln_Activation:$rhs);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}
def Kiln_AddOp : Kiln_ElementwiseBinaryOp<"add", "sum (residual connections)">;
def Kiln_MulOp : Kiln_ElementwiseBinaryOp<"mul", "product (gated FFN)">;

class Kiln_ElementwiseUnaryOp<string mnemonic, string what, string formula>
    : Kiln_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = what;
  let description = formula;
  let arguments = (ins Kiln_Activation:$input);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}
def Kiln_SiluOp : Kiln_ElementwiseUnaryOp<"silu", "SiLU activation",
    "`x / (1 + exp(-x))`">;
def Kiln_GeluOp : Kiln_ElementwiseUnaryOp<"gelu", "GELU activation (tanh form)",
    "`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, GPT-2's gelu_new">;
def Kiln_SoftmaxOp : Kiln_ElementwiseUnaryOp<"softmax", "softmax of each row",
    "`exp(x - max(x)) / sum(exp(x - max(x)))` along the last dimension">;

def Kiln_RopeOp : Kiln_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head";
  let description = [{
    Row `i` holds the heads of the token at position `p = position + i`.
    In each head of `head_dim` features, the first `rope_dims` are rotated
    in pairs by `theta_j = p * freq_scale * freq_base^(-2j / rope_dims)`;
    `mode` picks the pairing (llama.cpp's normal or NeoX).
  }];
  let arguments = (ins Kiln_Activation:$input, Index:$position,
                       I64Attr:$head_dim, I64Attr:$rope_dims,
                       Kiln_RopeModeAttr:$mode, F32Attr:$freq_base,
                       F32Attr:$freq_scale);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = "$input `,` $position attr-dict `:` type($input)";
  let hasVerifier = 1;
}

class Kiln_AttentionBase<string mnemonic> : Kiln_Op<mnemonic, [
    AllTypesMatch<["query", "result"]>, AllTypesMatch<["key", "value"]>,
    MemoryEffects<[MemRead<Kiln_KVCache>, MemWrite<Kiln_KVCache>]>]> {
  let arguments = (ins Kiln_Activation:$query, Kiln_Activation:$key,
                       Kiln_Activation:$value, Index:$position,
                       I64Attr:$layer, I64Attr:$num_heads,
                       I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       F32Attr:$scale);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $position attr-dict `:` type($query) `,` type($key)
  }];
  let hasVerifier = 1;
}

def Kiln_AttentionOp : Kiln_AttentionBase<"attention"> {
  let summary = "causal multi-head attention over the KV cache";
  let description = [{
    Appends the rows of `key` and `value` to layer `layer` of the KV cache at
    positions `position ...`, then for each query row at position `p` and
    head `h` computes `softmax(scale * q_h . K_g[0..p]) . V_g[0..p]`, where
    `g = h / (num_heads / num_kv_heads)` (grouped-query attention). The
    scores of a row are formed, normalized and then weighted, as llama.cpp's
    graph does (QK^T, soft_max, ·V), so results compare with it bit for bit.
  }];
}

def Kiln_FlashAttentionOp : Kiln_AttentionBase<"flash_attention"> {
  let summary = "attention in one pass over the KV cache (online softmax)";
  let description = [{
    Computes what `kiln.attention` computes, but walks the cached positions
    once in tiles, keeping a running maximum, a running sum and rescaled
    partial outputs (flash attention): no row of scores is stored. Equal to
    `kiln.attention` up to float reassociation. Made by
    `kiln-flash-attention`.
  }];
}

def Kiln_FusedMatmulOp : Kiln_Op<"fused_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "matmuls sharing one input, with a fused prologue and epilogue";
  let description = [{
    Made by the fusion passes from `kiln.matmul` and its neighbours. With
    `input : [T, K]` and weights `W_i : [N_i, K]`:

    - prologue: with `norm(%w)` the input is first RMS-normalized (with
      `norm(%w, %b)` layer-normalized) with `norm_epsilon`, as
      `kiln.rms_norm` / `kiln.layer_norm` would; no normalized copy exists;
    - products: `P_i = input W_i^T (+ bias_i)`; `biases` is empty or one per
      weight;
    - epilogue: `none` gives one result per weight; `swiglu` takes two
      weights of equal shape and gives one result `silu(P_0) * P_1`;
      `gelu` gives `gelu(P_i)`;
    - results listed in `rope_results` are rotated (`kiln.rope`, normal
      pairing) with `rope_*` at `position`;
    - `residual(%x)`: `%x` is added to the (single) result.

    ```mlir
    %q, %k, %v = kiln.fused_matmul %x, [%wq, %wk, %wv] norm(%n)
        position(%pos) {norm_epsilon = 1.0e-5 : f32, rope_results = array<i1: true, true, false>, ...}
        : (...) -> (tensor<?x256xf32>, tensor<?x64xf32>, tensor<?x64xf32>)
    ```
  }];
  let arguments = (ins Kiln_Activation:$input,
                       Variadic<Kiln_WeightType>:$weights,
                       Variadic<Kiln_WeightType>:$biases,
                       Optional<Kiln_WeightType>:$norm_weight,
                       Optional<Kiln_WeightType>:$norm_bias,
                       Optional<Kiln_Activation>:$residual,
                       Optional<Index>:$position,
                       OptionalAttr<F32Attr>:$norm_epsilon,
                       DefaultValuedAttr<Kiln_MatmulEpilogueAttr,
                           "::kiln::ir::MatmulEpilogue::none">:$epilogue,
                       OptionalAttr<DenseBoolArrayAttr>:$rope_results,
                       OptionalAttr<I64Attr>:$rope_head_dim,
                       OptionalAttr<I64Attr>:$rope_dims,
                       OptionalAttr<F32Attr>:$rope_freq_base,
                       OptionalAttr<F32Attr>:$rope_freq_scale);
  let results = (outs Variadic<Kiln_Activation>:$results);
  let assemblyFormat = [{
    $input `,` `[` $weights `]` (`bias` ` ` `[` $biases^ `]`)?
    (`norm` `(` $norm_weight^ (`,` $norm_bias^)? `)`)?
    (`residual` `(` $residual^ `)`)? (`position` `(` $position^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_SliceColumnsOp : Kiln_Op<"slice_columns", [Pure]> {
  let summary = "a contiguous range of columns (splits a fused QKV result)";
  let arguments = (ins Kiln_Activation:$input, I64Attr:$offset);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = [{
    $input `[` $offset `]` attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_LastRowOp : Kiln_Op<"last_row", [Pure]> {
  let summary = "the last row (the newest token's activations)";
  let arguments = (ins Kiln_Activation:$input);
  let results = (outs Kiln_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // KILN_OPS
