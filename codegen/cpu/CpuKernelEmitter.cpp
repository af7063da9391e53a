#include "codegen/cpu/CpuKernelEmitter.h"

#include "codegen/cpu/KernelContext.h"
#include "codegen/llvm/IntegerDot.h"
#include "codegen/llvm/WeightDecode.h"

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

// The kernel families live one per file (KernelContext.h lists them);
// this checks what the CPU cannot emit and dispatches on the kind.
Status emitKernel(Module &module, const KernelDesc &desc,
                  const std::string &symbol, const EmitTarget &target) {
  std::vector<GgmlType> formats = {desc.format};
  for (const MatmulPart &part : desc.matmul.parts)
    formats.push_back(part.format);
  for (GgmlType format : formats) {
    if ((desc.kind == KernelKind::Matmul || desc.kind == KernelKind::Embedding) &&
        !canDecode(format))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(format).name),
                       " weights");
    if (desc.kind == KernelKind::Matmul && desc.matmul.activations != GgmlType::F32 &&
        !hasIntegerDot(format))
      return makeError("no integer dot product for ",
                       std::string(ggmlTypeInfo(format).name), " weights");
  }
  // Only q4_0 on q8_0 rows, eight columns at a time, reads a repacked layout.
  for (const MatmulPart &part : desc.matmul.parts)
    if (part.layout == runtime::WeightLayout::Q4_0x8 &&
        (part.format != GgmlType::Q4_0 || part.rows % 8 != 0 || desc.cols % 32 != 0 ||
         desc.matmul.activations == GgmlType::F32))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(part.format).name),
                       " weights of ", std::to_string(part.rows), " rows in layout q4_0x8");
    else if (part.layout == runtime::WeightLayout::Rows4 &&
             (part.rows % 4 != 0 || desc.matmul.activations == GgmlType::F32 ||
              (part.format == GgmlType::Q4_0 && part.rows % 8 == 0)))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(part.format).name),
                       " weights of ", std::to_string(part.rows), " rows in layout rows4");
    else if (part.layout == runtime::WeightLayout::Pairs32 &&
             (part.rows % 2 != 0 || desc.cols % 32 != 0 ||
              desc.matmul.activations != GgmlType::F32 ||
              (part.format != GgmlType::F32 && part.format != GgmlType::F16 &&
               part.format != GgmlType::BF16)))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(part.format).name),
                       " weights of ", std::to_string(part.rows), " rows in layout pairs32");
  if (desc.kind == KernelKind::FlashAttention && desc.attention.headDim % 8 != 0)
    return makeError("flash attention needs a head size that is a multiple of 8, not ",
                     std::to_string(desc.attention.headDim));
  Kernel k(module, desc, symbol, target);
  switch (desc.kind) {
  case KernelKind::Embedding: emitEmbedding(k); break;
  case KernelKind::Positions: emitPositions(k); break;
  case KernelKind::RmsNorm: emitRmsNorm(k); break;
  case KernelKind::LayerNorm: emitLayerNorm(k); break;
  case KernelKind::Matmul: emitMatmulKernel(k); break;
  case KernelKind::Rope: emitRope(k); break;
  case KernelKind::KvStore: emitKvStore(k); break;
  case KernelKind::Attention: emitAttention(k); break;
  case KernelKind::FlashAttention: emitFlashAttention(k); break;
  case KernelKind::Add: emitBinary(k, true); break;
  case KernelKind::Mul: emitBinary(k, false); break;
  case KernelKind::Silu:
  case KernelKind::Gelu:
  case KernelKind::Softmax: emitUnary(k); break;
  case KernelKind::SliceColumns: emitSliceColumns(k); break;
  case KernelKind::LastRow: emitLastRow(k); break;
  case KernelKind::RoundActivations: emitRoundActivations(k); break;
  case KernelKind::QuantizeActivations: emitQuantizeActivations(k); break;
  }
  k.finish();
  return Status::success();
}

} // namespace kiln::codegen::cpu
