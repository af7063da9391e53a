// The tensor element types that appear in GGUF files (ggml's type ids), with
// their block geometry. Every id found in files today is named, including
// ids whose formats ggml has since removed, so `kiln info` can describe any
// file; `supported` says which ones kiln can read as numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kiln {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  Q4_0_4_4 = 31, // removed from ggml: repacked at load time now
  Q4_0_4_8 = 32, // removed
  Q4_0_8_8 = 33, // removed
  TQ1_0 = 34,
  TQ2_0 = 35,
  IQ4_NL_4_4 = 36, // removed
  IQ4_NL_4_8 = 37, // removed
  IQ4_NL_8_8 = 38, // removed
  MXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;   // as ggml spells it, e.g. "q4_K"
  uint32_t blockSize;      // elements per block
  uint32_t bytesPerBlock;  // bytes per block
  bool removed;            // ggml no longer reads this type
  bool dequantizable;      // kiln has a reference dequantizer for it
};

// nullptr for an id no GGUF file uses.
const GgmlTypeInfo *findGgmlType(uint32_t id);
const GgmlTypeInfo &ggmlTypeInfo(GgmlType type);
std::optional<GgmlType> ggmlTypeFromName(std::string_view name);
std::span<const GgmlTypeInfo> allGgmlTypes();

// The type ggml's CPU dot products convert the other operand to before
// multiplying it with weights of `weights` (its vec_dot_type): F32 for f32
// weights, F16/BF16, Q8_0 (q4_0, q4_1, q5_0, q5_1, q8_0; q8_1 rounds the
// same), Q8_K (K-quants); nullopt for types without a CPU dot product here.
std::optional<GgmlType> vecDotType(GgmlType weights);

inline double bitsPerWeight(const GgmlTypeInfo &info) {
  return 8.0 * info.bytesPerBlock / info.blockSize;
}

} // namespace kiln
