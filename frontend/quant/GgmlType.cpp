#include "GgmlType.h"

#include <algorithm>
#include <cctype>

namespace kiln {

namespace {

// Block geometry as defined by ggml's block structs (ggml-common.h).
constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::F32, "f32", 1, 4, false, true},
    {GgmlType::F16, "f16", 1, 2, false, true},
    {GgmlType::Q4_0, "q4_0", 32, 18, false, true},
    {GgmlType::Q4_1, "q4_1", 32, 20, false, true},
    {GgmlType::Q5_0, "q5_0", 32, 22, false, true},
    {GgmlType::Q5_1, "q5_1", 32, 24, false, true},
    {GgmlType::Q8_0, "q8_0", 32, 34, false, true},
    {GgmlType::Q8_1, "q8_1", 32, 36, false, false},
    {GgmlType::Q2_K, "q2_K", 256, 84, false, true},
    {GgmlType::Q3_K, "q3_K", 256, 110, false, true},
    {GgmlType::Q4_K, "q4_K", 256, 144, false, true},
    {GgmlType::Q5_K, "q5_K", 256, 176, false, true},
    {GgmlType::Q6_K, "q6_K", 256, 210, false, true},
    {GgmlType::Q8_K, "q8_K", 256, 292, false, false},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 66, false, false},
    {GgmlType::IQ2_XS, "iq2_xs", 256, 74, false, false},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 98, false, false},
    {GgmlType::IQ1_S, "iq1_s", 256, 50, false, false},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 18, false, false},
    {GgmlType::IQ3_S, "iq3_s", 256, 110, false, false},
    {GgmlType::IQ2_S, "iq2_s", 256, 82, false, false},
    {GgmlType::IQ4_XS, "iq4_xs", 256, 136, false, false},
    {GgmlType::I8, "i8", 1, 1, false, false},
    {GgmlType::I16, "i16", 1, 2, false, false},
    {GgmlType::I32, "i32", 1, 4, false, false},
    {GgmlType::I64, "i64", 1, 8, false, false},
    {GgmlType::F64, "f64", 1, 8, false, false},
    {GgmlType::IQ1_M, "iq1_m", 256, 56, false, false},
    {GgmlType::BF16, "bf16", 1, 2, false, true},
    {GgmlType::Q4_0_4_4, "q4_0_4x4", 32, 18, true, false},
    {GgmlType::Q4_0_4_8, "q4_0_4x8", 32, 18, true, false},
    {GgmlType::Q4_0_8_8, "q4_0_8x8", 32, 18, true, false},
    {GgmlType::TQ1_0, "tq1_0", 256, 54, false, false},
    {GgmlType::TQ2_0, "tq2_0", 256, 66, false, false},
    {GgmlType::IQ4_NL_4_4, "iq4_nl_4x4", 32, 18, true, false},
    {GgmlType::IQ4_NL_4_8, "iq4_nl_4x8", 32, 18, true, false},
    {GgmlType::IQ4_NL_8_8, "iq4_nl_8x8", 32, 18, true, false},
    {GgmlType::MXFP4, "mxfp4", 32, 17, false, false},
};

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

const GgmlTypeInfo *findGgmlType(uint32_t id) {
  for (const GgmlTypeInfo &info : kTypes)
    if (static_cast<uint32_t>(info.type) == id)
      return &info;
  return nullptr;
}

const GgmlTypeInfo &ggmlTypeInfo(GgmlType type) {
  // Every enumerator has a table row (checked by a unit test).
  return *findGgmlType(static_cast<uint32_t>(type));
}

std::optional<GgmlType> ggmlTypeFromName(std::string_view name) {
  for (const GgmlTypeInfo &info : kTypes)
    if (equalsIgnoringCase(info.name, name))
      return info.type;
  return std::nullopt;
}

std::span<const GgmlTypeInfo> allGgmlTypes() { return kTypes; }

std::optional<GgmlType> vecDotType(GgmlType weights) {
  switch (weights) {
  case GgmlType::F32: return GgmlType::F32;
  case GgmlType::F16: return GgmlType::F16;
  case GgmlType::BF16: return GgmlType::BF16;
  case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0:
  case GgmlType::Q5_1: case GgmlType::Q8_0:
    return GgmlType::Q8_0;
  case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K:
  case GgmlType::Q5_K: case GgmlType::Q6_K:
    return GgmlType::Q8_K;
  default: return std::nullopt;
  }
}

} // namespace kiln
