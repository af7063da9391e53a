#include "KernelDesc.h"

#include <cstdio>

namespace kiln::codegen {

const char *kernelKindName(KernelKind kind) {
  switch (kind) {
  case KernelKind::Embedding: return "embedding";
  case KernelKind::Positions: return "positions";
  case KernelKind::RmsNorm: return "rms_norm";
  case KernelKind::LayerNorm: return "layer_norm";
  case KernelKind::Matmul: return "matmul";
  case KernelKind::Rope: return "rope";
  case KernelKind::KvStore: return "kv_store";
  case KernelKind::Attention: return "attention";
  case KernelKind::FlashAttention: return "flash_attention";
  case KernelKind::Add: return "add";
  case KernelKind::Mul: return "mul";
  case KernelKind::Silu: return "silu";
  case KernelKind::Gelu: return "gelu";
  case KernelKind::Softmax: return "softmax";
  case KernelKind::SliceColumns: return "slice_columns";
  case KernelKind::LastRow: return "last_row";
  case KernelKind::RoundActivations: return "round_activations";
  case KernelKind::QuantizeActivations: return "quantize_activations";
  }
  return "?";
}

std::string kernelLabel(const KernelDesc &d) {
  std::string label = kernelKindName(d.kind);
  const MatmulDesc &m = d.matmul;
  if (d.kind == KernelKind::Matmul) {
    if (m.parts.size() > 1 && m.epilogue != MatmulEpilogue::SwiGlu)
      label += "_x" + std::to_string(m.parts.size());
    for (const MatmulPart &part : m.parts)
      if (part.rope) {
        label += "_rope";
        break;
      }
    if (m.epilogue == MatmulEpilogue::SwiGlu)
      label += "_swiglu";
    if (m.epilogue == MatmulEpilogue::Gelu)
      label += "_gelu";
    if (m.residual)
      label += "_residual";
  }
  if (d.norm.convert == RowConversion::Round)
    label += "_round";
  if (d.norm.convert == RowConversion::Quantize)
    label += "_quantize";
  return label;
}

// The spelling predates the per-family descriptions and is kept, so kernel
// names (symbols, cache keys) stay what they were. A family's fields not
// spelled here are zero unless that family is the kind's (headDim: the
// attention's or the rope's, never both).
std::string KernelDesc::key() const {
  const MatmulDesc &m = matmul;
  const int64_t headDim = attention.headDim ? attention.headDim : rope.headDim;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s_c%lld_o%lld_%s_a%s%s_e%a_s%a_fb%a_fs%a_%s_hd%lld_rd%lld_h%lld_"
                "kv%lld_off%lld_ctx%lld%s",
                kernelKindName(kind), (long long)cols, (long long)outCols,
                std::string(ggmlTypeInfo(format).name).c_str(),
                std::string(ggmlTypeInfo(m.activations).name).c_str(),
                m.hasBias ? "_bias" : "", norm.epsilon, attention.scale, rope.freqBase,
                rope.freqScale, rope.neox ? "neox" : "norm", (long long)headDim,
                (long long)rope.ropeDims, (long long)attention.numHeads,
                (long long)attention.numKvHeads, (long long)slice.offset,
                (long long)attention.contextLength, attention.kvHalf ? "_kvf16" : "");
  std::string key = buf;
  if (kind == KernelKind::Matmul && (m.parts.size() > 1 || m.residual ||
                                     m.epilogue != MatmulEpilogue::None ||
                                     (!m.parts.empty() && m.parts[0].rope))) {
    for (const MatmulPart &part : m.parts)
      key += "_p" + std::string(ggmlTypeInfo(part.format).name) + "x" +
             std::to_string(part.rows) + (part.hasBias ? "b" : "") +
             (part.rope ? "r" : "");
    key += "_ep" + std::to_string(int(m.epilogue)) + (m.residual ? "_res" : "");
  }
  if (norm.convert != RowConversion::None)
    key += "_cv" + std::to_string(int(norm.convert));
  for (size_t i = 0; i < m.parts.size(); ++i)
    if (m.parts[i].layout != runtime::WeightLayout::Gguf)
      key += "_l" + std::to_string(i) + std::string(runtime::weightLayoutName(m.parts[i].layout));
  return key;
}

} // namespace kiln::codegen
