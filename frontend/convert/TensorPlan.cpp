#include "TensorPlan.h"

#include "quant/Quantize.h"
#include "support/Half.h"

#include <cstring>

namespace kiln::convert {

namespace {

constexpr OutType kOutTypes[] = {
    {"f32", GgmlType::F32, 0},
    {"f16", GgmlType::F16, 1},
    {"bf16", GgmlType::BF16, 32},
    {"q8_0", GgmlType::Q8_0, 7},
};

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

// Reads element i of a float-typed source as float.
Status toFloats(const SourceTensor &source, std::span<float> out) {
  const uint8_t *bytes = source.data.data();
  const size_t n = out.size();
  switch (source.dtype) {
  case DType::F32:
    std::memcpy(out.data(), bytes, n * 4);
    return {};
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * i, 2);
      out[i] = halfToFloat(h);
    }
    return {};
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, bytes + 2 * i, 2);
      out[i] = bf16ToFloat(b);
    }
    return {};
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, bytes + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
    return {};
  default:
    return makeError(source.file, ": tensor '", source.name, "' has dtype ",
                     dtypeName(source.dtype), ", not a float type");
  }
}

} // namespace

std::span<const OutType> outTypes() { return kOutTypes; }

const OutType *findOutType(std::string_view name) {
  for (const OutType &type : kOutTypes)
    if (type.name == name)
      return &type;
  return nullptr;
}

GgmlType chooseTensorType(const std::string &name,
                          std::span<const int64_t> shape, GgmlType outType) {
  if (shape.size() <= 1 || endsWith(name, "_norm.weight") ||
      !endsWith(name, ".weight") || name == "position_embd.weight" ||
      name == "token_types.weight" || endsWith(name, ".ffn_gate_inp.weight"))
    return GgmlType::F32;
  if (outType == GgmlType::Q8_0 && shape.back() % 32 != 0)
    return GgmlType::F16; // llama.cpp: "falling back to F16"
  return outType;
}

Status fillTensor(const PlannedTensor &planned, std::span<uint8_t> out,
                  std::vector<float> &scratch) {
  const SourceTensor &source = *planned.source;
  const size_t n = source.elementCount();
  if (n == 0)
    return {};
  // The common case needs no float copy at all.
  if (source.dtype == DType::F32 && planned.type == GgmlType::F32 &&
      planned.rearrange == Rearrange::None) {
    std::memcpy(out.data(), source.data.data(), n * 4);
    return {};
  }
  scratch.resize(planned.rearrange == Rearrange::None ? n : 2 * n);
  std::span<float> values(scratch.data(), n);
  KILN_TRY(toFloats(source, values));

  if (planned.rearrange != Rearrange::None) {
    std::span<float> arranged(scratch.data() + n, n);
    const int64_t rows = source.shape.empty() ? 1 : source.shape[0];
    const size_t rowLength = rows ? n / static_cast<size_t>(rows) : 0;
    if (planned.rearrange == Rearrange::Transpose) {
      const size_t cols = rowLength; // source is [rows, cols]
      for (size_t r = 0; r < static_cast<size_t>(rows); ++r)
        for (size_t c = 0; c < cols; ++c)
          arranged[c * rows + r] = values[r * cols + c];
    } else {
      // Row (h, i, j) of [heads, 2, half] goes to (h, j, i).
      const size_t headDim = static_cast<size_t>(rows) / planned.ropeHeads;
      const size_t half = headDim / 2;
      for (size_t h = 0; h < planned.ropeHeads; ++h)
        for (size_t i = 0; i < 2; ++i)
          for (size_t j = 0; j < half; ++j) {
            size_t from = h * headDim + i * half + j;
            size_t to = h * headDim + j * 2 + i;
            std::memcpy(&arranged[to * rowLength], &values[from * rowLength],
                        rowLength * sizeof(float));
          }
    }
    values = arranged;
  }

  switch (planned.type) {
  case GgmlType::F32:
    std::memcpy(out.data(), values.data(), n * 4);
    return {};
  case GgmlType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = floatToHalf(values[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
    return {};
  case GgmlType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b = floatToBf16(values[i]);
      std::memcpy(out.data() + 2 * i, &b, 2);
    }
    return {};
  default:
    return quantize(planned.type, values, out);
  }
}

} // namespace kiln::convert
