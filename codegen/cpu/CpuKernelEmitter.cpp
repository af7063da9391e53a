#include "codegen/cpu/CpuKernelEmitter.h"

#include "codegen/cpu/CpuSchedule.h"
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
  // A matmul weight comes in the file's layout or in one the kernels
  // stream (the layout the CPU target asks for, in either numerics).
  auto streamed = [&](const MatmulPart &part, Numerics numerics) {
    return part.layout == matmulWeightLayout(part.format, part.rows, desc.cols,
                                             desc.matmul.activations != GgmlType::F32,
                                             numerics);
  };
  for (const MatmulPart &part : desc.matmul.parts)
    if (part.layout != runtime::WeightLayout::Gguf && !streamed(part, Numerics::Exact) &&
        !streamed(part, Numerics::Fast))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(part.format).name),
                       " weights of ", std::to_string(part.rows), " rows in layout ",
                       std::string(runtime::weightLayoutName(part.layout)));
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
