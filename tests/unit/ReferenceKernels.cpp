#include "ReferenceKernels.h"

#include "codegen/QuantizedActivations.h"
#include "quant/Dequantize.h"
#include "support/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kiln::test {

using codegen::AttentionDesc;
using codegen::KernelDesc;
using codegen::KernelKind;
using codegen::MatmulEpilogue;
using codegen::MatmulPart;
using codegen::RowConversion;

namespace {

float roundHalf(float v) { return halfToFloat(floatToHalf(v)); }

float loadF32(std::span<uint8_t> buffer, int64_t index) {
  float v;
  std::memcpy(&v, buffer.data() + 4 * index, 4);
  return v;
}
void storeF32(std::span<uint8_t> buffer, int64_t index, float v) {
  std::memcpy(buffer.data() + 4 * index, &v, 4);
}
int32_t loadI32(std::span<uint8_t> buffer, int64_t index) {
  int32_t v;
  std::memcpy(&v, buffer.data() + 4 * index, 4);
  return v;
}
void storeI32(std::span<uint8_t> buffer, int64_t index, int32_t v) {
  std::memcpy(buffer.data() + 4 * index, &v, 4);
}

// Row t of an f32 rows buffer.
std::vector<float> loadRow(std::span<uint8_t> buffer, int64_t t, int64_t cols) {
  std::vector<float> row(cols);
  std::memcpy(row.data(), buffer.data() + 4 * t * cols, 4 * cols);
  return row;
}
void storeRow(std::span<uint8_t> buffer, int64_t t, const std::vector<float> &row) {
  std::memcpy(buffer.data() + 4 * t * row.size(), row.data(), 4 * row.size());
}

// KV cache element `index`: f16 or f32.
float loadCache(std::span<uint8_t> cache, int64_t index, bool half) {
  if (!half)
    return loadF32(cache, index);
  uint16_t h;
  std::memcpy(&h, cache.data() + 2 * index, 2);
  return halfToFloat(h);
}
void storeCache(std::span<uint8_t> cache, int64_t index, float v, bool half) {
  if (!half)
    return storeF32(cache, index, v);
  uint16_t h = floatToHalf(v);
  std::memcpy(cache.data() + 2 * index, &h, 2);
}

uint64_t quantizedRowBytes(GgmlType format, int64_t cols) {
  return uint64_t(codegen::quantizedRowLayout(format, cols).rowBytes);
}

// The rope angle of pair i (of ropeDims / 2) at position p, exactly:
// p * freqScale * freqBase^(-2i / ropeDims).
double ropeAngle(const KernelDesc &d, int64_t p, int64_t i) {
  return double(p) * double(d.rope.freqScale) *
         std::pow(double(d.rope.freqBase), -2.0 * double(i) / double(d.rope.ropeDims));
}

// Rotates pairs (a, c) of every head of `row` (heads of headDim) for
// position p: pair i is (2i, 2i+1), or (i, i + ropeDims/2) for neox.
void ropeRow(const KernelDesc &d, std::vector<float> &row, int64_t p, bool neox) {
  int64_t heads = int64_t(row.size()) / d.rope.headDim;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d.rope.ropeDims / 2; ++i) {
      int64_t a = h * d.rope.headDim + (neox ? i : 2 * i);
      int64_t c = a + (neox ? d.rope.ropeDims / 2 : 1);
      double theta = ropeAngle(d, p, i);
      double x0 = row[a], x1 = row[c];
      row[a] = float(x0 * std::cos(theta) - x1 * std::sin(theta));
      row[c] = float(x0 * std::sin(theta) + x1 * std::cos(theta));
    }
}

// The normalized row (RmsNorm / LayerNorm) in f32: sums in double, the
// mean, variance and 1/sqrt in float, as llama.cpp's norms round them.
std::vector<float> normRow(const KernelDesc &d, const std::vector<float> &x,
                           const std::vector<float> &w, const std::vector<float> *bias) {
  int64_t n = d.cols;
  std::vector<float> out(n);
  if (d.kind == KernelKind::RmsNorm) {
    double sum = 0;
    for (float v : x)
      sum += double(v) * double(v);
    float mean = float(sum / double(n));
    float scale = 1.0f / std::sqrt(mean + d.norm.epsilon);
    for (int64_t c = 0; c < n; ++c)
      out[c] = (x[c] * scale) * w[c];
    return out;
  }
  double sum = 0;
  for (float v : x)
    sum += v;
  float mean = float(sum / double(n));
  double sum2 = 0;
  for (float v : x)
    sum2 += double(v - mean) * double(v - mean);
  float variance = float(sum2 / double(n));
  float scale = 1.0f / std::sqrt(variance + d.norm.epsilon);
  for (int64_t c = 0; c < n; ++c)
    out[c] = ((x[c] - mean) * scale) * w[c] + (*bias)[c];
  return out;
}

// Writes row t of a norm's or conversion's output in the form `convert`
// says: f32, rounded (f32 rows), or quantized rows.
void storeConverted(std::span<uint8_t> out, int64_t t, const std::vector<float> &row,
                    RowConversion convert, GgmlType format) {
  int64_t n = int64_t(row.size());
  if (convert == RowConversion::None)
    return storeRow(out, t, row);
  if (convert == RowConversion::Round) {
    std::vector<float> rounded(n);
    roundActivationRow(format, row.data(), n, rounded.data());
    return storeRow(out, t, rounded);
  }
  uint64_t bytes = quantizedRowBytes(format, n);
  quantizeActivationRow(format, row.data(), n, out.data() + t * bytes);
}

// q4_1 and q5_1 blocks with a q8_0 input: the dot products read the input
// block's sum from s = f16(d * sum q) (as llama.cpp's q8_1 stores it), not
// from the values, so the reference does too: sum_k d_w q_k x_k + m * s.
bool readsBlockSums(GgmlType weights, GgmlType activations) {
  return activations == GgmlType::Q8_0 &&
         (weights == GgmlType::Q4_1 || weights == GgmlType::Q5_1);
}

// A matmul part's weights as the dot products use them: N x K floats and,
// for q4_1/q5_1 on a q8_0 input (readsBlockSums), each block's minimum m
// apart (the floats then hold d * q, from the block with m zeroed).
struct PartWeights {
  std::vector<float> values; // N x K
  std::vector<float> mins;   // N x K / 32, readsBlockSums only
};

PartWeights partWeights(const KernelDesc &d, GgmlType format, int64_t N,
                        std::span<uint8_t> weights) {
  int64_t K = d.cols;
  uint64_t stride = storedBytes(format, K);
  PartWeights w;
  w.values.resize(N * K);
  bool sums = readsBlockSums(format, d.matmul.activations);
  const GgmlTypeInfo &info = ggmlTypeInfo(format);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<uint8_t> row(weights.data() + n * stride, weights.data() + (n + 1) * stride);
    if (sums) // block: f16 d, f16 m, quants
      for (int64_t b = 0; b < K / 32; ++b) {
        uint8_t *block = row.data() + b * info.bytesPerBlock;
        uint16_t m;
        std::memcpy(&m, block + 2, 2);
        std::memset(block + 2, 0, 2);
        w.mins.push_back(halfToFloat(m));
      }
    std::vector<float> values = dequantizeRow(format, row.data(), K);
    std::copy(values.begin(), values.end(), w.values.begin() + n * K);
  }
  return w;
}

// Output n of row t: sum over k of w[n][k] * x[k] in double, the input
// read as the kernel reads it (f32 row, or quantized row and its sums).
double matmulDot(const KernelDesc &d, const PartWeights &w, int64_t n,
                 std::span<uint8_t> input, int64_t t) {
  int64_t K = d.cols;
  const float *wrow = w.values.data() + n * K;
  double sum = 0;
  if (d.matmul.activations == GgmlType::F32) {
    for (int64_t k = 0; k < K; ++k)
      sum += double(wrow[k]) * double(loadF32(input, t * K + k));
    return sum;
  }
  uint64_t rowBytes = quantizedRowBytes(d.matmul.activations, K);
  const uint8_t *xrow = input.data() + t * rowBytes;
  for (int64_t k = 0; k < K; ++k)
    sum += double(wrow[k]) * double(quantizedRowValue(d.matmul.activations, xrow, K, k));
  if (!w.mins.empty()) {
    codegen::QuantizedRowLayout layout = codegen::quantizedRowLayout(d.matmul.activations, K);
    for (int64_t b = 0; b < K / 32; ++b) {
      float s;
      std::memcpy(&s, xrow + layout.extraOffset + 4 * b, 4);
      sum += double(w.mins[n * (K / 32) + b]) * double(s);
    }
  }
  return sum;
}

void matmulReference(const KernelDesc &d, const std::vector<std::span<uint8_t>> &args,
                     int64_t rows, int64_t position) {
  bool swiglu = d.matmul.epilogue == MatmulEpilogue::SwiGlu;
  size_t index = 1;
  std::vector<std::span<uint8_t>> weights, biases, outs;
  for (const MatmulPart &part : d.matmul.parts) {
    weights.push_back(args[index++]);
    biases.push_back(part.hasBias ? args[index++] : std::span<uint8_t>());
  }
  std::span<uint8_t> residual = d.matmul.residual ? args[index++] : std::span<uint8_t>();
  for (size_t r = 0; r < (swiglu ? 1 : d.matmul.parts.size()); ++r)
    outs.push_back(args[index++]);
  std::span<uint8_t> input = args[0];

  // part p's products plus its bias, rows x N.
  auto products = [&](size_t p) {
    int64_t N = d.matmul.parts[p].rows;
    PartWeights w = partWeights(d, d.matmul.parts[p].format, N, weights[p]);
    std::vector<std::vector<float>> result(rows, std::vector<float>(N));
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t n = 0; n < N; ++n) {
        double sum = matmulDot(d, w, n, input, t);
        if (d.matmul.parts[p].hasBias)
          sum += loadF32(biases[p], n);
        result[t][n] = float(sum);
      }
    return result;
  };
  // Epilogue order: SwiGLU or GELU, then the residual, then rope.
  auto finish = [&](std::vector<std::vector<float>> &values, size_t p, bool rope) {
    int64_t N = int64_t(values.empty() ? 0 : values[0].size());
    for (int64_t t = 0; t < rows; ++t) {
      std::vector<float> &row = values[t];
      for (int64_t n = 0; n < N; ++n) {
        if (d.matmul.epilogue == MatmulEpilogue::Gelu)
          row[n] = geluReference(row[n]);
        if (d.matmul.residual)
          row[n] = loadF32(residual, t * N + n) + row[n];
      }
      if (rope) // fused rope: always the normal pairing
        ropeRow(d, row, position + t, false);
      storeRow(outs[p], t, row);
    }
  };
  if (swiglu) {
    std::vector<std::vector<float>> gate = products(0), up = products(1);
    for (int64_t t = 0; t < rows; ++t)
      for (size_t n = 0; n < gate[t].size(); ++n)
        gate[t][n] = siluReference(gate[t][n]) * up[t][n];
    finish(gate, 0, false);
    return;
  }
  for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
    std::vector<std::vector<float>> values = products(p);
    finish(values, p, d.matmul.parts[p].rope);
  }
}

// One query row's attention over positions [0, count): scores
// scale * q.k_j, softmax, sum of w_j * v_j. With an f16 cache q is
// rounded to f16 and (Attention only, as llama.cpp's non-flash path
// converts the weights for its f16 matmul) each w_j too.
void attentionReference(const KernelDesc &d, const std::vector<std::span<uint8_t>> &args,
                        int64_t rows, int64_t position) {
  std::span<uint8_t> q = args[0], kc = args[1], vc = args[2], out = args[3];
  int64_t hd = d.attention.headDim, width = d.cols;
  int64_t kvWidth = d.attention.numKvHeads * hd;
  int64_t group = d.attention.numHeads / d.attention.numKvHeads;
  bool roundWeights = d.attention.kvHalf && d.kind == KernelKind::Attention;
  for (int64_t t = 0; t < rows; ++t) {
    std::vector<float> result(width);
    int64_t count = position + t + 1; // causal: itself and every earlier position
    for (int64_t h = 0; h < d.attention.numHeads; ++h) {
      int64_t kvOffset = (h / group) * hd;
      std::vector<float> query(hd);
      for (int64_t c = 0; c < hd; ++c) {
        float v = loadF32(q, t * width + h * hd + c);
        query[c] = d.attention.kvHalf ? roundHalf(v) : v;
      }
      std::vector<double> scores(count);
      double max = -INFINITY;
      for (int64_t j = 0; j < count; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < hd; ++c)
          dot += double(query[c]) *
                 double(loadCache(kc, j * kvWidth + kvOffset + c, d.attention.kvHalf));
        scores[j] = dot * double(d.attention.scale);
        max = std::max(max, scores[j]);
      }
      double sum = 0;
      for (double &s : scores) {
        s = std::exp(s - max);
        sum += s;
      }
      std::vector<double> acc(hd, 0.0);
      for (int64_t j = 0; j < count; ++j) {
        double w = scores[j] / sum;
        if (roundWeights)
          w = roundHalf(float(w));
        for (int64_t c = 0; c < hd; ++c)
          acc[c] += w * double(loadCache(vc, j * kvWidth + kvOffset + c, d.attention.kvHalf));
      }
      for (int64_t c = 0; c < hd; ++c)
        result[h * hd + c] = float(acc[c]);
    }
    storeRow(out, t, result);
  }
}

} // namespace

uint64_t storedBytes(GgmlType type, int64_t count) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  return uint64_t(count / info.blockSize) * info.bytesPerBlock;
}

std::vector<ArgInfo> kernelArgs(const KernelDesc &d, int64_t rows, int64_t vocab) {
  std::vector<ArgInfo> args;
  auto f32Rows = [&](std::string name, int64_t r, int64_t cols,
                     ArgRole role = ArgRole::Input) {
    args.push_back({std::move(name), ArgData::F32Rows, role, GgmlType::F32, r, cols,
                    uint64_t(4 * r * cols)});
  };
  auto vector = [&](std::string name, int64_t cols) {
    args.push_back({std::move(name), ArgData::F32Vector, ArgRole::Input, GgmlType::F32, 1,
                    cols, uint64_t(4 * cols)});
  };
  auto quantRows = [&](std::string name, GgmlType format, int64_t cols, ArgRole role) {
    args.push_back({std::move(name), ArgData::QuantRows, role, format, rows, cols,
                    rows * quantizedRowBytes(format, cols)});
  };
  // A norm's or conversion's output in its form.
  auto converted = [&](RowConversion convert, GgmlType format) {
    if (convert == RowConversion::Quantize)
      return quantRows("out", format, d.cols, ArgRole::Output);
    f32Rows("out", rows, d.cols, ArgRole::Output);
    args.back().format = convert == RowConversion::Round ? format : GgmlType::F32;
  };
  auto cache = [&](std::string name, int64_t cols, ArgRole role) {
    const AttentionDesc &a = d.attention;
    args.push_back({std::move(name), ArgData::KvCache, role,
                    a.kvHalf ? GgmlType::F16 : GgmlType::F32, a.contextLength, cols,
                    uint64_t(a.contextLength * cols * (a.kvHalf ? 2 : 4))});
  };
  switch (d.kind) {
  case KernelKind::Embedding:
    args.push_back({"table", ArgData::WeightRows, ArgRole::Input, d.format, vocab, d.outCols,
                    vocab * storedBytes(d.format, d.outCols)});
    args.push_back({"ids", ArgData::I32, ArgRole::Input, GgmlType::I32, rows, 1,
                    uint64_t(4 * rows)});
    f32Rows("out", rows, d.outCols, ArgRole::Output);
    break;
  case KernelKind::Positions:
    args.push_back({"out", ArgData::I32, ArgRole::Output, GgmlType::I32, rows, 1,
                    uint64_t(4 * rows)});
    break;
  case KernelKind::RmsNorm:
  case KernelKind::LayerNorm:
    f32Rows("x", rows, d.cols);
    vector("weight", d.cols);
    if (d.kind == KernelKind::LayerNorm)
      vector("bias", d.cols);
    converted(d.norm.convert, d.format);
    break;
  case KernelKind::Matmul: {
    if (d.matmul.activations == GgmlType::F32)
      f32Rows("x", rows, d.cols);
    else
      quantRows("x", d.matmul.activations, d.cols, ArgRole::Input);
    for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
      const MatmulPart &part = d.matmul.parts[p];
      args.push_back({"weight" + std::to_string(p), ArgData::WeightRows, ArgRole::Input,
                      part.format, part.rows, d.cols,
                      part.rows * storedBytes(part.format, d.cols)});
      if (part.hasBias)
        vector("bias" + std::to_string(p), part.rows);
    }
    if (d.matmul.residual)
      f32Rows("residual", rows, d.matmul.parts[0].rows);
    bool swiglu = d.matmul.epilogue == MatmulEpilogue::SwiGlu;
    for (size_t p = 0; p < (swiglu ? 1 : d.matmul.parts.size()); ++p)
      f32Rows("out" + std::to_string(p), rows, d.matmul.parts[p].rows, ArgRole::Output);
    break;
  }
  case KernelKind::Rope:
  case KernelKind::Silu:
  case KernelKind::Gelu:
  case KernelKind::Softmax:
    f32Rows("x", rows, d.cols);
    f32Rows("out", rows, d.cols, ArgRole::Output);
    break;
  case KernelKind::KvStore:
    f32Rows("k", rows, d.cols);
    f32Rows("v", rows, d.cols);
    cache("kcache", d.cols, ArgRole::InOut);
    cache("vcache", d.cols, ArgRole::InOut);
    break;
  case KernelKind::Attention:
  case KernelKind::FlashAttention:
    f32Rows("q", rows, d.cols);
    cache("kcache", d.attention.numKvHeads * d.attention.headDim, ArgRole::Input);
    cache("vcache", d.attention.numKvHeads * d.attention.headDim, ArgRole::Input);
    f32Rows("out", rows, d.cols, ArgRole::Output);
    break;
  case KernelKind::Add:
  case KernelKind::Mul:
    f32Rows("a", rows, d.cols);
    f32Rows("b", rows, d.cols);
    f32Rows("out", rows, d.cols, ArgRole::Output);
    break;
  case KernelKind::SliceColumns:
    f32Rows("x", rows, d.cols);
    f32Rows("out", rows, d.outCols, ArgRole::Output);
    break;
  case KernelKind::LastRow:
    f32Rows("x", rows, d.cols);
    f32Rows("out", 1, d.cols, ArgRole::Output);
    break;
  case KernelKind::RoundActivations:
    f32Rows("x", rows, d.cols);
    converted(RowConversion::Round, d.format);
    break;
  case KernelKind::QuantizeActivations:
    f32Rows("x", rows, d.cols);
    converted(RowConversion::Quantize, d.format);
    break;
  }
  return args;
}

std::vector<float> dequantizeRow(GgmlType type, const uint8_t *row, int64_t cols) {
  std::vector<float> out(cols);
  Status status = dequantize(type, std::span(row, storedBytes(type, cols)), out);
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

void quantizeActivationRow(GgmlType format, const float *x, int64_t cols, uint8_t *row) {
  codegen::QuantizedRowLayout layout = codegen::quantizedRowLayout(format, cols);
  bool kBlocks = format == GgmlType::Q8_K;
  int64_t block = layout.block;
  for (int64_t b = 0; b < cols / block; ++b) {
    const float *in = x + b * block;
    float multiplier, stored, unrounded = 0;
    if (!kBlocks) {
      float amax = 0;
      for (int64_t j = 0; j < block; ++j)
        amax = std::max(amax, std::fabs(in[j]));
      unrounded = amax / 127.0f;
      multiplier = amax != 0 ? 127.0f / amax : 0.0f;
      stored = roundHalf(unrounded);
    } else {
      float extreme = 0; // the first value of largest magnitude
      for (int64_t j = 0; j < block; ++j)
        if (std::fabs(in[j]) > std::fabs(extreme))
          extreme = in[j];
      multiplier = extreme != 0 ? -127.0f / extreme : 0.0f;
      stored = extreme != 0 ? 1.0f / multiplier : 0.0f;
    }
    std::memcpy(row + layout.scalesOffset + 4 * b, &stored, 4);
    int32_t blockSum = 0;
    for (int64_t g = 0; g < block / 16; ++g) {
      int32_t groupSum = 0;
      for (int64_t j = g * 16; j < g * 16 + 16; ++j) {
        float q = std::nearbyint(in[j] * multiplier); // ties to even
        if (kBlocks)
          q = std::min(q, 127.0f);
        int8_t byte = int8_t(q);
        row[b * block + j] = uint8_t(byte);
        groupSum += byte;
      }
      if (kBlocks)
        std::memcpy(row + layout.extraOffset + 4 * (b * (block / 16) + g), &groupSum, 4);
      blockSum += groupSum;
    }
    if (!kBlocks) {
      float s = roundHalf(unrounded * float(blockSum));
      std::memcpy(row + layout.extraOffset + 4 * b, &s, 4);
    }
  }
}

float quantizedRowValue(GgmlType format, const uint8_t *row, int64_t cols, int64_t i) {
  codegen::QuantizedRowLayout layout = codegen::quantizedRowLayout(format, cols);
  float d;
  std::memcpy(&d, row + layout.scalesOffset + 4 * (i / layout.block), 4);
  return float(int8_t(row[i])) * d;
}

void roundActivationRow(GgmlType format, const float *x, int64_t cols, float *out) {
  if (format == GgmlType::F16) {
    for (int64_t c = 0; c < cols; ++c)
      out[c] = roundHalf(x[c]);
    return;
  }
  if (format == GgmlType::BF16) {
    for (int64_t c = 0; c < cols; ++c)
      out[c] = bf16ToFloat(floatToBf16(x[c]));
    return;
  }
  std::vector<uint8_t> row(quantizedRowBytes(format, cols));
  quantizeActivationRow(format, x, cols, row.data());
  for (int64_t c = 0; c < cols; ++c)
    out[c] = quantizedRowValue(format, row.data(), cols, c);
}

float siluReference(float x) { return float(double(x) / (1.0 + std::exp(-double(x)))); }

float geluReference(float x) {
  if (x <= -10.0f)
    return 0.0f;
  if (x >= 10.0f)
    return x;
  double h = roundHalf(x);
  double inner = 0.7978845608028654 * h * (1.0 + 0.044715 * h * h);
  return roundHalf(float(0.5 * h * (1.0 + std::tanh(inner))));
}

void runReference(const KernelDesc &d, const std::vector<std::span<uint8_t>> &args,
                  int64_t rows, int64_t position) {
  switch (d.kind) {
  case KernelKind::Embedding: {
    uint64_t stride = storedBytes(d.format, d.outCols);
    for (int64_t t = 0; t < rows; ++t) {
      int32_t id = loadI32(args[1], t);
      storeRow(args[2], t, dequantizeRow(d.format, args[0].data() + id * stride, d.outCols));
    }
    return;
  }
  case KernelKind::Positions:
    for (int64_t t = 0; t < rows; ++t)
      storeI32(args[0], t, int32_t(position + t));
    return;
  case KernelKind::RmsNorm:
  case KernelKind::LayerNorm: {
    bool layer = d.kind == KernelKind::LayerNorm;
    std::vector<float> w = loadRow(args[1], 0, d.cols);
    std::vector<float> bias = layer ? loadRow(args[2], 0, d.cols) : std::vector<float>();
    std::span<uint8_t> out = args[layer ? 3 : 2];
    for (int64_t t = 0; t < rows; ++t)
      storeConverted(out, t, normRow(d, loadRow(args[0], t, d.cols), w, &bias), d.norm.convert,
                     d.format);
    return;
  }
  case KernelKind::Matmul:
    return matmulReference(d, args, rows, position);
  case KernelKind::Rope:
    for (int64_t t = 0; t < rows; ++t) {
      std::vector<float> row = loadRow(args[0], t, d.cols);
      ropeRow(d, row, position + t, d.rope.neox); // columns past ropeDims as they are
      storeRow(args[1], t, row);
    }
    return;
  case KernelKind::KvStore:
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t c = 0; c < d.cols; ++c) {
        int64_t at = (position + t) * d.cols + c;
        storeCache(args[2], at, loadF32(args[0], t * d.cols + c), d.attention.kvHalf);
        storeCache(args[3], at, loadF32(args[1], t * d.cols + c), d.attention.kvHalf);
      }
    return;
  case KernelKind::Attention:
  case KernelKind::FlashAttention:
    return attentionReference(d, args, rows, position);
  case KernelKind::Add:
  case KernelKind::Mul:
    for (int64_t i = 0; i < rows * d.cols; ++i) {
      float a = loadF32(args[0], i), b = loadF32(args[1], i);
      storeF32(args[2], i, d.kind == KernelKind::Add ? a + b : a * b);
    }
    return;
  case KernelKind::Silu:
  case KernelKind::Gelu:
    for (int64_t i = 0; i < rows * d.cols; ++i) {
      float x = loadF32(args[0], i);
      storeF32(args[1], i, d.kind == KernelKind::Silu ? siluReference(x) : geluReference(x));
    }
    return;
  case KernelKind::Softmax:
    for (int64_t t = 0; t < rows; ++t) {
      std::vector<float> row = loadRow(args[0], t, d.cols);
      double max = -INFINITY, sum = 0;
      for (float v : row)
        max = std::max(max, double(v));
      std::vector<double> e(d.cols);
      for (int64_t c = 0; c < d.cols; ++c)
        sum += e[c] = std::exp(double(row[c]) - max);
      for (int64_t c = 0; c < d.cols; ++c)
        row[c] = float(e[c] / sum);
      storeRow(args[1], t, row);
    }
    return;
  case KernelKind::SliceColumns:
    for (int64_t t = 0; t < rows; ++t) {
      std::vector<float> row = loadRow(args[0], t, d.cols);
      storeRow(args[1], t,
               std::vector<float>(row.begin() + d.slice.offset,
                                  row.begin() + d.slice.offset + d.outCols));
    }
    return;
  case KernelKind::LastRow:
    storeRow(args[1], 0, loadRow(args[0], rows - 1, d.cols));
    return;
  case KernelKind::RoundActivations:
  case KernelKind::QuantizeActivations:
    for (int64_t t = 0; t < rows; ++t)
      storeConverted(args[1], t, loadRow(args[0], t, d.cols),
                     d.kind == KernelKind::RoundActivations ? RowConversion::Round
                                                            : RowConversion::Quantize,
                     d.format);
    return;
  }
  ADD_FAILURE() << "no reference for kernel kind " << codegen::kernelKindName(d.kind);
}

} // namespace kiln::test
