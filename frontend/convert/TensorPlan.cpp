#include "TensorPlan.h"

#include "quant/Quantize.h"
#include "support/Half.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <thread>

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

// float to f16 as llama.cpp's converter gets it from numpy: nearest even,
// and a NaN keeps the top of its payload (made nonzero) rather than
// becoming ggml's canonical 0x7e00.
uint16_t convertedHalf(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000) {
    uint16_t half = static_cast<uint16_t>(0x7c00 | ((bits & 0x7fffff) >> 13));
    if (half == 0x7c00)
      ++half;
    return static_cast<uint16_t>(((bits >> 16) & 0x8000) | half);
  }
  return floatToHalf(value);
}

// Converts floats to `type` (f32, f16, bf16 or a block format whose
// blocks run along the values), splitting large tensors over threads.
Status convertValues(GgmlType type, std::span<const float> values,
                     std::span<uint8_t> out) {
  const auto &info = ggmlTypeInfo(type);
  auto convertRange = [&](size_t begin, size_t end) -> Status {
    switch (type) {
    case GgmlType::F32:
      std::memcpy(out.data() + 4 * begin, values.data() + begin, (end - begin) * 4);
      return {};
    case GgmlType::F16:
      for (size_t i = begin; i < end; ++i) {
        uint16_t h = convertedHalf(values[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      return {};
    case GgmlType::BF16:
      for (size_t i = begin; i < end; ++i) {
        uint16_t b = floatToBf16(values[i]);
        std::memcpy(out.data() + 2 * i, &b, 2);
      }
      return {};
    default: {
      size_t firstBlock = begin / info.blockSize, blocks = (end - begin) / info.blockSize;
      return quantize(type, values.subspan(begin, end - begin),
                      out.subspan(firstBlock * info.bytesPerBlock,
                                  blocks * info.bytesPerBlock));
    }
    }
  };
  const size_t n = values.size();
  const size_t threads = std::min<size_t>(
      std::max(1u, std::thread::hardware_concurrency()), n / (1u << 18) + 1);
  if (threads <= 1)
    return convertRange(0, n);
  // Chunks of whole blocks (of 256 elements, a multiple of every block).
  const size_t unit = 256;
  const size_t units = (n + unit - 1) / unit;
  std::vector<Status> results(threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    size_t begin = std::min(n, units * t / threads * unit);
    size_t end = std::min(n, units * (t + 1) / threads * unit);
    workers.emplace_back([&, t, begin, end] { results[t] = convertRange(begin, end); });
  }
  for (std::thread &worker : workers)
    worker.join();
  for (Status &result : results)
    if (!result.ok())
      return result;
  return {};
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
  std::span<const float> values;
  const bool aligned =
      reinterpret_cast<uintptr_t>(source.data.data()) % alignof(float) == 0;
  if (source.dtype == DType::F32 && aligned) { // read in place
    values = {reinterpret_cast<const float *>(source.data.data()), n};
    if (planned.rearrange != Rearrange::None)
      scratch.resize(n);
  } else {
    scratch.resize(planned.rearrange == Rearrange::None ? n : 2 * n);
    std::span<float> converted(scratch.data(), n);
    KILN_TRY(toFloats(source, converted));
    values = converted;
  }

  if (planned.rearrange != Rearrange::None) {
    std::span<float> arranged(scratch.data() + (scratch.size() - n), n);
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

  return convertValues(planned.type, values, out);
}

} // namespace kiln::convert
