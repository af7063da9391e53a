// Kernel descriptions: what one generated kernel computes, with every shape
// and constant it is specialized to, and the arguments it takes. Target
// independent: no tile, no task count, no launch shape; the CPU, OpenCL
// (and CUDA) targets each choose their own schedule for the same
// description (codegen/cpu/CpuSchedule.h, the OpenCL emitters' LaunchShape).
#pragma once

#include "quant/GgmlType.h"
#include "runtime/WeightLayout.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::codegen {

enum class KernelKind {
  Embedding,    // args: table, ids, out.
  Positions,    // args: out (i32).
  // With `convert` the normalized row is written as the matmul after it
  // reads it (rounded or quantized to `format`), never as f32.
  RmsNorm,      // args: x, weight, out.
  LayerNorm,    // args: x, weight, bias, out.
  // args: x, then per part weight, [bias]; [residual]; one output per
  // part (one in all for SwiGLU).
  Matmul,
  Rope,         // args: x, out.
  KvStore,      // args: k, v, kcache, vcache.
  Attention,    // args: q, kcache, vcache, out.
  FlashAttention, // as Attention, online softmax.
  Add,          // args: a, b, out.
  Mul,          // args: a, b, out.
  Silu,         // args: x, out.
  Gelu,         // args: x, out.
  Softmax,      // args: x, out.
  SliceColumns, // args: x, out.
  LastRow,      // args: x, out.
  // The input as llama.cpp's dot products see it: rounded to f16/bf16 or
  // quantized to q8 blocks and back (`format`: F16, BF16, Q8_0, Q8_K).
  RoundActivations, // args: x, out.
  // The input quantized to q8 blocks for integer dot products (`format`:
  // Q8_0 or Q8_K; layout in QuantizedActivations.h).
  QuantizeActivations, // args: x, out.
};

const char *kernelKindName(KernelKind kind);
struct KernelDesc;
// The kind, and for fused kernels what is fused: "matmul_x3_rope",
// "matmul_swiglu", "rms_norm_quantize", ... (symbols, profiles).
std::string kernelLabel(const KernelDesc &desc);

// One weight of a matmul kernel: several weights that read the same input
// (q, k, v; gate and up) are one kernel.
struct MatmulPart {
  GgmlType format = GgmlType::F32;
  int64_t rows = 0; // N: output columns
  bool hasBias = false;
  bool rope = false; // rotate the result (normal pairing; rope fields)
  // How the weight is laid out in memory (the target asked for it).
  runtime::WeightLayout layout = runtime::WeightLayout::Gguf;
};

enum class MatmulEpilogue { None, SwiGlu, Gelu };

// What a norm kernel writes: the f32 row, or the row as the matmul that
// reads it needs it (RoundActivations / QuantizeActivations to `format`).
enum class RowConversion { None, Round, Quantize };

// The rotation of rope: read by Rope kernels and by matmul parts with rope.
struct RopeDesc {
  int64_t headDim = 0;
  int64_t ropeDims = 0; // the first ropeDims of each head rotate
  float freqBase = 0.0f;
  float freqScale = 0.0f;
  bool neox = false; // pairs (i, i + ropeDims/2) instead of (2i, 2i + 1)
};

// Norms: epsilon, and the form of the written row (the form itself is the
// description's `format`).
struct NormDesc {
  float epsilon = 0.0f;
  RowConversion convert = RowConversion::None;
};

// Matmuls: the weights (one for a plain matmul: then the description's
// format and outCols repeat parts[0]), the form of the input rows, the
// epilogue, and a residual to add.
struct MatmulDesc {
  // Input rows: F32, or Q8_0/Q8_K quantized rows (integer dots).
  GgmlType activations = GgmlType::F32;
  bool hasBias = false; // parts[0]'s, for a plain matmul
  std::vector<MatmulPart> parts;
  MatmulEpilogue epilogue = MatmulEpilogue::None;
  bool residual = false;
};

// Attention and the KV store: heads, the cache's length and element type.
struct AttentionDesc {
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  float scale = 0.0f;
  int64_t contextLength = 0; // positions in the KV cache
  // The KV cache holds f16 (as llama.cpp's default); attention then also
  // rounds q and the softmax weights to f16, as llama.cpp's CPU path does.
  bool kvHalf = false;
};

// SliceColumns: the first column taken.
struct SliceDesc {
  int64_t offset = 0;
};

// What one kernel computes: the kind and row widths every kind has, and
// per family the description its emitters read:
//   Embedding                      format (the table's)
//   RmsNorm/LayerNorm              norm; format (the form written, with
//                                  norm.convert)
//   Round/QuantizeActivations      format (the form written)
//   Matmul                         format, matmul; rope for parts with rope
//   Rope                           rope
//   KvStore                        attention.contextLength, .kvHalf
//   Attention/FlashAttention       attention
//   SliceColumns                   slice
// A target's emitter for a kind reads those and nothing else; the other
// families stay at their defaults. key() covers every field, so two
// descriptions share a kernel only when equal.
struct KernelDesc {
  KernelKind kind = KernelKind::Add;
  int64_t cols = 0;    // input row width (K for matmul)
  int64_t outCols = 0; // output row width (N for matmul)
  GgmlType format = GgmlType::F32; // weight storage, or the form written

  MatmulDesc matmul;
  NormDesc norm;
  RopeDesc rope;
  AttentionDesc attention;
  SliceDesc slice;

  // A name unique to the computation: equal descriptions share a kernel.
  std::string key() const;
};

} // namespace kiln::codegen
