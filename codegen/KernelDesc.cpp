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
  return buf;
}

} // namespace kiln::codegen
