// What the converter writes for each GGUF tensor: its name, the checkpoint
// tensor it comes from, the rearrangement it needs, and the output type
// chosen as llama.cpp's converter chooses it.
#pragma once

#include "Checkpoint.h"
#include "quant/GgmlType.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::convert {

enum class Rearrange {
  None,
  // Rows (first dim) of q/k projections regrouped from Hugging Face's
  // rotate-half rope layout to GGUF's interleaved pairs, per head.
  PermuteRopeRows,
  // A 2-D [in, out] Conv1D weight (GPT-2) written as [out, in].
  Transpose,
};

struct PlannedTensor {
  std::string name; // GGUF name, e.g. "blk.0.attn_q.weight"
  const SourceTensor *source = nullptr;
  Rearrange rearrange = Rearrange::None;
  uint32_t ropeHeads = 0; // heads for PermuteRopeRows
  std::vector<int64_t> shape; // output shape, PyTorch order
  GgmlType type = GgmlType::F32;

  // GGUF dims (ne[0] first).
  std::vector<int64_t> ggufDims() const {
    return {shape.rbegin(), shape.rend()};
  }
};

// The output types `kiln convert --outtype` accepts and their
// general.file_type (llama_ftype) values.
struct OutType {
  std::string_view name;
  GgmlType type;
  uint32_t fileType;
};
std::span<const OutType> outTypes();
const OutType *findOutType(std::string_view name);

// llama.cpp's converter's rule: 1-D tensors, norms, biases (anything not
// named *.weight) and position embeddings stay f32; q8_0 falls back to f16
// for rows that are not whole blocks; everything else takes `outType`.
GgmlType chooseTensorType(const std::string &name,
                          std::span<const int64_t> shape, GgmlType outType);

// Output rounding is llama.cpp's converter's: f16 nearest even (a NaN
// keeps its payload's top bits, as numpy does), bf16 nearest even, q8_0
// ggml's reference.
// Converts the source's values (f32/f16/bf16/f64) to `planned.type`,
// rearranged as planned, into `out` (exactly the tensor's byte size).
// `scratch` is reused between calls to avoid reallocations.
Status fillTensor(const PlannedTensor &planned, std::span<uint8_t> out,
                  std::vector<float> &scratch);

} // namespace kiln::convert
