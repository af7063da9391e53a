#include "codegen/cpu/CpuSchedule.h"

namespace kiln::codegen::cpu {

runtime::WeightLayout matmulWeightLayout(GgmlType weights, int64_t rows, int64_t cols,
                                         bool quantizedInput, Numerics numerics) {
  if (!quantizedInput) {
    const bool plain =
        weights == GgmlType::F32 || weights == GgmlType::F16 || weights == GgmlType::BF16;
    return plain && rows % 2 == 0 && cols % 32 == 0 ? runtime::WeightLayout::Pairs32
                                                    : runtime::WeightLayout::Gguf;
  }
  if (cols % ggmlTypeInfo(weights).blockSize != 0)
    return runtime::WeightLayout::Gguf;
  if (weights == GgmlType::Q4_0 && rows % 8 == 0)
    return runtime::WeightLayout::Q4_0x8;
  if (numerics == Numerics::Fast && weights == GgmlType::Q4_K && rows % 16 == 0)
    return runtime::WeightLayout::Q4_Kx16;
  if (numerics == Numerics::Fast && weights == GgmlType::Q6_K && rows % 16 == 0)
    return runtime::WeightLayout::Q6_Kx16;
  if (numerics == Numerics::Fast && weights == GgmlType::Q8_0 && rows % 16 == 0)
    return runtime::WeightLayout::Q8_0x16;
  if (rows % 4 == 0)
    return runtime::WeightLayout::Rows4;
  return runtime::WeightLayout::Gguf;
}

int64_t flashHeadsPerTask(const AttentionDesc &attention) {
  int64_t group = attention.numHeads / attention.numKvHeads;
  for (int64_t heads = group < 8 ? group : 8; heads > 1; --heads)
    if (group % heads == 0)
      return heads;
  return 1;
}

runtime::TaskCount taskCount(const KernelDesc &d) {
  switch (d.kind) {
  case KernelKind::Positions:
  case KernelKind::LastRow:
    return {1, 0};
  case KernelKind::Attention:
    return {d.attention.numHeads, 0};
  case KernelKind::FlashAttention:
    return {0, d.attention.numHeads / flashHeadsPerTask(d.attention)};
  case KernelKind::Matmul: {
    int64_t tiles = 0;
    for (const MatmulPart &part : d.matmul.parts) {
      tiles += (part.rows + kMatmulTile - 1) / kMatmulTile;
      if (d.matmul.epilogue == MatmulEpilogue::SwiGlu)
        break; // gate and up share their tiles
    }
    return {tiles, 0};
  }
  case KernelKind::Embedding:
  case KernelKind::RmsNorm:
  case KernelKind::LayerNorm:
  case KernelKind::Rope:
  case KernelKind::KvStore:
  case KernelKind::Add:
  case KernelKind::Mul:
  case KernelKind::Silu:
  case KernelKind::Gelu:
  case KernelKind::Softmax:
  case KernelKind::SliceColumns:
  case KernelKind::RoundActivations:
  case KernelKind::QuantizeActivations:
    return {0, 1}; // one task per row
  }
  return {0, 1};
}


} // namespace kiln::codegen::cpu
