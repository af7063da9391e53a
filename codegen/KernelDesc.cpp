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
  if (d.kind == KernelKind::Matmul) {
    if (d.parts.size() > 1 && d.epilogue != MatmulEpilogue::SwiGlu)
      label += "_x" + std::to_string(d.parts.size());
    for (const MatmulPart &part : d.parts)
      if (part.rope) {
        label += "_rope";
        break;
      }
    if (d.epilogue == MatmulEpilogue::SwiGlu)
      label += "_swiglu";
    if (d.epilogue == MatmulEpilogue::Gelu)
      label += "_gelu";
    if (d.residual)
      label += "_residual";
  }
  if (d.convert == RowConversion::Round)
    label += "_round";
  if (d.convert == RowConversion::Quantize)
    label += "_quantize";
  return label;
}

std::string KernelDesc::key() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s_c%lld_o%lld_%s_a%s%s_e%a_s%a_fb%a_fs%a_%s_hd%lld_rd%lld_h%lld_"
                "kv%lld_off%lld_ctx%lld%s",
                kernelKindName(kind), (long long)cols, (long long)outCols,
                std::string(ggmlTypeInfo(format).name).c_str(),
                std::string(ggmlTypeInfo(activations).name).c_str(),
                hasBias ? "_bias" : "", epsilon, scale, freqBase, freqScale,
                neox ? "neox" : "norm", (long long)headDim,
                (long long)ropeDims, (long long)numHeads,
                (long long)numKvHeads, (long long)offset,
                (long long)contextLength, kvHalf ? "_kvf16" : "");
  std::string key = buf;
  if (kind == KernelKind::Matmul && (parts.size() > 1 || residual ||
                                     epilogue != MatmulEpilogue::None ||
                                     (!parts.empty() && parts[0].rope))) {
    for (const MatmulPart &part : parts)
      key += "_p" + std::string(ggmlTypeInfo(part.format).name) + "x" +
             std::to_string(part.rows) + (part.hasBias ? "b" : "") +
             (part.rope ? "r" : "");
    key += "_ep" + std::to_string(int(epilogue)) + (residual ? "_res" : "");
  }
  if (convert != RowConversion::None)
    key += "_cv" + std::to_string(int(convert));
  return key;
}

} // namespace kiln::codegen
