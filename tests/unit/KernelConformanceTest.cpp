// Kernel conformance: every kernel description the shared models' plans use
// (tinyshakes-llama and tinyshakes-gpt2 in each weight format, fused and
// unfused, f16 and f32 KV caches) runs on every built target with random
// inputs of a fixed seed, for a few (rows, position) cases, and every
// output element is compared with the plain C++ reference of the
// arithmetic (ReferenceKernels.h), within the tolerance written beside each
// kind below. A target that is not built is skipped with a message.
// Every description of a target is compiled as one module (CPU: ~25 s of
// LLVM on one core); under PoCL the first run also compiles each kernel at
// its first launch (~2 min), later runs find them in the caches (~6 s).
#include "ReferenceKernels.h"
#include "TestData.h"

#include "codegen/Compile.h"
#include "codegen/QuantizedActivations.h"
#include "codegen/Target.h"
#include "codegen/TargetRegistry.h"
#include "gguf/GgufFile.h"
#include "quant/Quantize.h"
#include "support/Half.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

namespace kiln {
namespace {

using codegen::KernelDesc;
using codegen::KernelKind;
using codegen::MatmulEpilogue;
using codegen::RowConversion;
using test::ArgData;
using test::ArgInfo;
using test::ArgRole;

// --- Tolerances --------------------------------------------------------------
//
// Errors are measured relative to the magnitude of the output row (the
// largest |reference| in it): a reordered f32 sum of K products errs by a
// few ulps of the terms' size, which the row's largest value bounds.
// Converted rows (rounded to f16/bf16/q8, or quantized to q8 blocks) are
// compared by value, allowing one step of their format on rare elements
// (`flips`): the f32 row a norm converts may differ in its last bit, which
// moves a value sitting on a rounding boundary to its neighbour.
struct Tolerance {
  double relative = 0; // max |got - ref| / row magnitude
  double flips = 0;    // converted rows: fraction of elements one step off
  const char *why = "";
};

Tolerance toleranceFor(const KernelDesc &d) {
  switch (d.kind) {
  case KernelKind::Positions:
  case KernelKind::KvStore:
  case KernelKind::Add:
  case KernelKind::Mul:
  case KernelKind::SliceColumns:
  case KernelKind::LastRow:
    return {0, 0, "exact: copies, one f32 operation, or one f16 rounding"};
  case KernelKind::Embedding:
    return {1e-6, 0, "dequantization: d*q+m may be contracted to one fma"};
  case KernelKind::RoundActivations:
  case KernelKind::QuantizeActivations:
    return {0, 0, "exact: the same f32 input quantized by the same rule"};
  case KernelKind::RmsNorm:
  case KernelKind::LayerNorm:
    if (d.norm.convert != RowConversion::None)
      return {1e-5, 0.01,
              "the normalized row within f32 rounding, so a value on a "
              "rounding boundary may land one step away (<= 1% of values)"};
    return {1e-5, 0, "sums in double, mean and 1/sqrt in f32: a few ulps"};
  case KernelKind::Rope:
    return {1e-4, 0,
            "ggml raises base^(-2/dims) step by step in f32: angle i drifts "
            "by ~i/2 ulps of p (p < 64, i < 64: < 1e-4 rad)"};
  case KernelKind::Silu:
  case KernelKind::Softmax:
    return {1e-5, 0, "ggml's polynomial exp / expf: a few ulps"};
  case KernelKind::Gelu:
    return {2e-3, 0,
            "the result is rounded to f16: tanhf may move it one f16 ulp "
            "(2^-10 relative, 1e-3 of the row's largest value at most)"};
  case KernelKind::Attention:
  case KernelKind::FlashAttention:
    if (d.attention.kvHalf && d.kind == KernelKind::Attention)
      return {5e-4, 0,
              "the softmax weights are rounded to f16: a weight on a boundary "
              "moves one f16 ulp (2^-11 of it) between exp implementations, so "
              "the output moves by at most ~2^-11 of the values' size"};
    return {2e-5, 0, "f32 dot products and softmax sums in another order, ggml's exp"};
  case KernelKind::Matmul: {
    bool rope = false;
    for (const auto &part : d.matmul.parts)
      rope |= part.rope;
    if (d.matmul.epilogue == MatmulEpilogue::Gelu)
      return {2e-3, 0, "GELU rounds its input and result to f16: one f16 ulp"};
    if (rope)
      return {1e-4, 0, "f32 sums, then rope (angle drift as for rope)"};
    return {2e-5, 0,
            "f32 sums of K products in another order (integer dots: exact "
            "block sums, f32 block scales)"};
  }
  }
  return {};
}

// --- The descriptions the shared models use ----------------------------------

struct Collected {
  std::vector<KernelDesc> descs;
  std::vector<std::string> origins; // the first model and options using each
};

struct PlanVariant {
  const char *name;
  codegen::CompileOptions options;
};

std::vector<PlanVariant> planVariants(const std::string &target) {
  std::vector<PlanVariant> variants;
  codegen::CompileOptions base;
  base.target = target;
  variants.push_back({"default", base});
  codegen::CompileOptions unfused = base;
  unfused.passes.fuse = false;
  variants.push_back({"unfused", unfused});
  codegen::CompileOptions f32Cache = base;
  f32Cache.lower.kvCacheF16 = false;
  f32Cache.passes.disabled.insert("kiln-flash-attention");
  variants.push_back({"f32-kv", f32Cache});
  codegen::CompileOptions floatDots = base;
  floatDots.lower.integerDots = false;
  variants.push_back({"float-dots", floatDots});
  return variants;
}

std::vector<std::string> sharedModels() {
  std::vector<std::string> files;
  const char *llama[] = {"f32",  "f16",  "q8_0",   "q4_0",   "q4_1",   "q5_0", "q5_1",
                         "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "bf16"};
  const char *gpt2[] = {"f32", "f16", "q8_0", "q4_0"};
  auto add = [&](const std::string &model, const char *format) {
    std::filesystem::path path =
        test::sharedModelsDir() / model / (model + "-" + format + ".gguf");
    if (std::filesystem::exists(path))
      files.push_back(path.string());
  };
  for (const char *f : llama)
    add("tinyshakes-llama", f);
  for (const char *f : gpt2)
    add("tinyshakes-gpt2", f);
  return files;
}

Collected collectDescs(const std::string &target) {
  Collected out;
  std::map<std::string, size_t> seen;
  for (const std::string &path : sharedModels()) {
    auto file = GgufFile::open(path);
    EXPECT_TRUE(file.ok()) << path << ": " << file.error().message;
    if (!file.ok())
      continue;
    auto spec = ModelSpec::fromGguf(*file);
    EXPECT_TRUE(spec.ok()) << path << ": " << spec.error().message;
    if (!spec.ok())
      continue;
    for (const PlanVariant &variant : planVariants(target)) {
      mlir::MLIRContext context;
      auto module = codegen::buildGraph(context, *spec, variant.options);
      EXPECT_TRUE(module.ok()) << path << ": " << module.error().message;
      if (!module.ok())
        continue;
      auto lowered = codegen::lowerGraph(module->get(), variant.options);
      EXPECT_TRUE(lowered.ok()) << path << ": " << lowered.error().message;
      if (!lowered.ok())
        continue;
      for (const KernelDesc &d : lowered->kernels)
        if (seen.emplace(d.key(), out.descs.size()).second) {
          out.descs.push_back(d);
          out.origins.push_back(std::filesystem::path(path).stem().string() + " " +
                                variant.name);
        }
    }
  }
  // What the tinyshakes models lack but the kernels are written for (and
  // larger models use): grouped-query attention, neox rope, rope on part
  // of each head. Derived from the models' own descriptions.
  std::vector<KernelDesc> derived;
  std::vector<std::string> derivedOrigins;
  for (const KernelDesc &d : out.descs) {
    bool attention = d.kind == KernelKind::Attention || d.kind == KernelKind::FlashAttention;
    if (attention && d.attention.numKvHeads == d.attention.numHeads &&
        d.attention.numHeads % 4 == 0) {
      KernelDesc gqa = d;
      gqa.attention.numKvHeads = d.attention.numHeads / 4;
      derived.push_back(gqa);
      derivedOrigins.push_back("derived: grouped-query attention");
    }
    if (d.kind == KernelKind::FlashAttention && d.attention.kvHalf &&
        d.attention.numKvHeads == d.attention.numHeads) {
      KernelDesc f32Cache = d;
      f32Cache.attention.kvHalf = false;
      derived.push_back(f32Cache);
      derivedOrigins.push_back("derived: flash attention over an f32 cache");
      // Twice the heads at half the width over one KV head: the CPU
      // target splits such a group across tasks (flashHeadsPerTask).
      if (d.attention.headDim % 16 == 0) {
        KernelDesc shared = d;
        shared.attention.numHeads = 2 * d.attention.numHeads;
        shared.attention.headDim = d.attention.headDim / 2;
        shared.attention.numKvHeads = 1;
        derived.push_back(shared);
        derivedOrigins.push_back("derived: " + std::to_string(shared.attention.numHeads) +
                                 " heads over one KV head");
      }
    }
    if (d.kind == KernelKind::Rope && !d.rope.neox && d.rope.ropeDims == d.rope.headDim) {
      for (bool neox : {true, false})
        for (int64_t dims : {d.rope.headDim, d.rope.headDim / 2}) {
          if (!neox && dims == d.rope.headDim)
            continue;
          KernelDesc rope = d;
          rope.rope.neox = neox;
          rope.rope.ropeDims = dims;
          derived.push_back(rope);
          derivedOrigins.push_back(std::string("derived: ") + (neox ? "neox " : "") +
                                   "rope on " + std::to_string(dims) + " of " +
                                   std::to_string(d.rope.headDim) + " dims");
        }
    }
  }
  for (size_t i = 0; i < derived.size(); ++i)
    if (seen.emplace(derived[i].key(), out.descs.size()).second) {
      out.descs.push_back(derived[i]);
      out.origins.push_back(derivedOrigins[i]);
    }
  return out;
}

// --- Inputs ------------------------------------------------------------------

struct Case {
  int64_t rows, position;
};
// One token (the decode kernels' paths), ten from the start (the batched
// paths: 8-row panels, 4-row and 3-row micro-tiles, and their leftovers),
// three late in the cache (long causal rows, two attention tiles of 32).
constexpr Case kCases[] = {{1, 5}, {10, 0}, {3, 37}};
constexpr int64_t kVocab = 64; // rows of an embedding table

// The range of a kernel's float inputs: enough to reach every branch
// (GELU's +-10 cut-offs) and to make softmax and attention weights uneven.
float inputRange(const KernelDesc &d) {
  switch (d.kind) {
  case KernelKind::Gelu: return 12.0f;
  case KernelKind::Silu: return 8.0f;
  case KernelKind::Softmax: return 5.0f;
  case KernelKind::Attention:
  case KernelKind::FlashAttention: return 3.0f;
  default: return 1.0f;
  }
}

std::vector<float> uniform(std::mt19937 &rng, size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return values;
}

void put(std::vector<uint8_t> &buffer, const std::vector<float> &values) {
  std::memcpy(buffer.data(), values.data(), 4 * values.size());
}

// Random inputs for one call; outputs filled with NaN (floats) or 0xff
// bytes, so an element a kernel leaves unwritten cannot pass.
// Quantized random weights by format and shape, made once (the K-quant
// reference quantizers are slow) and shared by every description.
using WeightCache = std::map<std::string, std::vector<uint8_t>>;

std::vector<std::vector<uint8_t>> makeInputs(const KernelDesc &d,
                                             const std::vector<ArgInfo> &args,
                                             int64_t rows, int64_t position,
                                             std::mt19937 &rng, WeightCache &weights) {
  std::vector<std::vector<uint8_t>> buffers;
  float range = inputRange(d);
  for (const ArgInfo &a : args) {
    std::vector<uint8_t> buffer(a.bytes);
    if (a.role == ArgRole::Output) {
      if (a.data == ArgData::F32Rows)
        put(buffer, std::vector<float>(a.bytes / 4, NAN));
      else
        std::fill(buffer.begin(), buffer.end(), uint8_t(0xff));
      buffers.push_back(std::move(buffer));
      continue;
    }
    switch (a.data) {
    case ArgData::F32Rows:
      put(buffer, uniform(rng, a.bytes / 4, -range, range));
      break;
    case ArgData::QuantRows: {
      // Rows as the quantizing kernels write them (the reference quantizer).
      uint64_t rowBytes = a.bytes / a.rows;
      for (int64_t t = 0; t < a.rows; ++t) {
        std::vector<float> x = uniform(rng, a.cols, -range, range);
        test::quantizeActivationRow(a.format, x.data(), a.cols, buffer.data() + t * rowBytes);
      }
      break;
    }
    case ArgData::I32: {
      std::uniform_int_distribution<int32_t> dist(0, kVocab - 1);
      for (int64_t t = 0; t < a.rows; ++t) {
        int32_t id = dist(rng);
        std::memcpy(buffer.data() + 4 * t, &id, 4);
      }
      break;
    }
    case ArgData::WeightRows: {
      // Random weights, quantized by the frontend's reference quantizer.
      std::string key = std::string(ggmlTypeInfo(a.format).name) + "_" +
                        std::to_string(a.rows) + "x" + std::to_string(a.cols);
      auto found = weights.find(key);
      if (found == weights.end()) {
        std::vector<float> w = uniform(rng, size_t(a.rows * a.cols), -0.5f, 0.5f);
        Status status = quantize(a.format, w, buffer);
        EXPECT_TRUE(status.ok()) << status.message();
        found = weights.emplace(key, buffer).first;
      }
      buffer = found->second;
      break;
    }
    case ArgData::F32Vector:
      put(buffer, a.name == "weight" ? uniform(rng, a.cols, 0.5f, 1.5f)
                                     : uniform(rng, a.cols, -0.5f, 0.5f));
      break;
    case ArgData::KvCache: {
      // Positions the call may read (< position + rows: earlier calls and
      // this call's KV store wrote them) hold random values; the rest NaN,
      // which any read past the causal mask would spread into the output.
      int64_t filled = d.kind == KernelKind::KvStore ? a.rows : position + rows;
      std::vector<float> values = uniform(rng, size_t(a.rows * a.cols), -1.0f, 1.0f);
      for (int64_t i = filled * a.cols; i < a.rows * a.cols; ++i)
        values[i] = NAN;
      for (int64_t i = 0; i < a.rows * a.cols; ++i) {
        if (a.format == GgmlType::F16) {
          uint16_t h = floatToHalf(values[i]);
          std::memcpy(buffer.data() + 2 * i, &h, 2);
        } else {
          std::memcpy(buffer.data() + 4 * i, &values[i], 4);
        }
      }
      break;
    }
    }
    buffers.push_back(std::move(buffer));
  }
  return buffers;
}

// --- Comparison ----------------------------------------------------------------

// maxAbs and maxRel over every element; `bounded` over those that are not
// flips (the ones the relative tolerance judges).
struct Errors {
  double maxAbs = 0, maxRel = 0, bounded = 0;
  int64_t elements = 0, flips = 0;
  std::string worst; // where the largest relative error is
  void add(double abs, double rel, const std::string &where, bool flip = false) {
    if (std::isnan(abs) || std::isnan(rel))
      abs = rel = INFINITY;
    ++elements;
    maxAbs = std::max(maxAbs, abs);
    if (rel > maxRel || (std::isinf(rel) && worst.empty())) {
      maxRel = rel;
      worst = where;
    }
    if (flip)
      ++flips;
    else
      bounded = std::max(bounded, rel);
  }
  void merge(const Errors &o) {
    maxAbs = std::max(maxAbs, o.maxAbs);
    if (o.maxRel > maxRel) {
      maxRel = o.maxRel;
      worst = o.worst;
    }
    bounded = std::max(bounded, o.bounded);
    elements += o.elements;
    flips += o.flips;
  }
};

float f32At(const std::vector<uint8_t> &b, int64_t i) {
  float v;
  std::memcpy(&v, b.data() + 4 * i, 4);
  return v;
}

std::string at(const ArgInfo &a, int64_t t, int64_t c) {
  return a.name + "[" + std::to_string(t) + "][" + std::to_string(c) + "]";
}

// One step of `format` at value v: what a rounding flip may move it by.
// For q8 rows the step is the block's scale (passed in).
double roundingStep(GgmlType format, double v, double blockStep) {
  switch (format) {
  case GgmlType::F16: return std::max(std::fabs(v) * 0x1p-10, 0x1p-24);
  case GgmlType::BF16: return std::max(std::fabs(v) * 0x1p-7, 0x1p-133);
  default: return blockStep;
  }
}

// f32 rows, rounded or not: relative to each row's magnitude. In a rounded
// row an element further off than the tolerance is a flip, which must be
// at most one step of the format.
Errors compareF32Rows(const ArgInfo &a, const std::vector<uint8_t> &got,
                      const std::vector<uint8_t> &ref, const Tolerance &tol,
                      bool &stepExceeded) {
  Errors e;
  bool rounded = a.format != GgmlType::F32;
  int64_t block = a.format == GgmlType::Q8_K ? 256 : 32;
  for (int64_t t = 0; t < a.rows; ++t) {
    double magnitude = 0;
    for (int64_t c = 0; c < a.cols; ++c)
      magnitude = std::max(magnitude, double(std::fabs(f32At(ref, t * a.cols + c))));
    magnitude = std::max(magnitude, 1e-30);
    for (int64_t c = 0; c < a.cols; ++c) {
      double g = f32At(got, t * a.cols + c), r = f32At(ref, t * a.cols + c);
      double abs = std::fabs(g - r);
      if (std::isnan(g) != std::isnan(r))
        abs = NAN;
      else if (std::isnan(g))
        abs = 0;
      bool flip = rounded && abs > tol.relative * magnitude;
      e.add(abs, abs / magnitude, at(a, t, c), flip);
      if (flip) {
        double blockMax = 0;
        int64_t b0 = c / block * block;
        for (int64_t j = b0; j < b0 + block && j < a.cols; ++j)
          blockMax = std::max(blockMax, double(std::fabs(f32At(ref, t * a.cols + j))));
        if (!(abs <= roundingStep(a.format, r, blockMax / 127.0) * 1.001 +
                         tol.relative * magnitude))
          stepExceeded = true;
      }
    }
  }
  return e;
}

// Quantized rows: each value (q * d) relative to the row's magnitude; a
// quant that differs is a flip, at most one step; the extras (q8_0's s,
// q8_K's sums) consistent with the quants.
Errors compareQuantRows(const ArgInfo &a, const std::vector<uint8_t> &got,
                        const std::vector<uint8_t> &ref, const Tolerance &tol,
                        bool &stepExceeded, std::string &problem) {
  Errors e;
  codegen::QuantizedRowLayout layout = codegen::quantizedRowLayout(a.format, a.cols);
  bool kBlocks = a.format == GgmlType::Q8_K;
  for (int64_t t = 0; t < a.rows; ++t) {
    const uint8_t *g = got.data() + t * layout.rowBytes, *r = ref.data() + t * layout.rowBytes;
    double magnitude = 1e-30;
    for (int64_t c = 0; c < a.cols; ++c)
      magnitude = std::max(magnitude,
                           double(std::fabs(test::quantizedRowValue(a.format, r, a.cols, c))));
    for (int64_t b = 0; b < a.cols / layout.block; ++b) {
      float dg, dr;
      std::memcpy(&dg, g + layout.scalesOffset + 4 * b, 4);
      std::memcpy(&dr, r + layout.scalesOffset + 4 * b, 4);
      double step = std::max(std::fabs(double(dr)), std::fabs(double(dg)));
      int64_t blockFlips = 0;
      for (int64_t j = b * layout.block; j < (b + 1) * layout.block; ++j) {
        double vg = test::quantizedRowValue(a.format, g, a.cols, j);
        double vr = test::quantizedRowValue(a.format, r, a.cols, j);
        double abs = std::isnan(vg) ? NAN : std::fabs(vg - vr);
        bool flip = g[j] != r[j];
        e.add(abs, abs / magnitude, at(a, t, j), flip);
        if (flip) {
          ++blockFlips;
          if (std::abs(int(int8_t(g[j])) - int(int8_t(r[j]))) > 1 ||
              !(abs <= step * 1.001 + tol.relative * magnitude))
            stepExceeded = true;
        }
      }
      if (!kBlocks) {
        float sg, sr;
        std::memcpy(&sg, g + layout.extraOffset + 4 * b, 4);
        std::memcpy(&sr, r + layout.extraOffset + 4 * b, 4);
        double allowed = step * double(blockFlips) * 1.01 + std::fabs(sr) * 0x1p-10 +
                         tol.relative * magnitude;
        if (!(std::fabs(double(sg) - double(sr)) <= allowed))
          problem = "s of block " + std::to_string(b) + " of row " + std::to_string(t) +
                    ": " + std::to_string(sg) + " against " + std::to_string(sr);
      } else {
        for (int64_t group = 0; group < layout.block / 16; ++group) {
          int64_t index = b * (layout.block / 16) + group;
          int32_t sum;
          std::memcpy(&sum, g + layout.extraOffset + 4 * index, 4);
          int32_t expected = 0;
          for (int64_t j = 16 * index; j < 16 * index + 16; ++j)
            expected += int8_t(g[j]);
          if (sum != expected)
            problem = "sum of group " + std::to_string(index) + " of row " +
                      std::to_string(t) + " is " + std::to_string(sum) + ", its values' " +
                      std::to_string(expected);
        }
      }
    }
  }
  return e;
}

// Bitwise: i32 rows and KV caches (every position, the untouched ones too).
Errors compareBits(const ArgInfo &a, const std::vector<uint8_t> &got,
                   const std::vector<uint8_t> &ref) {
  Errors e;
  int64_t width = a.data == ArgData::KvCache && a.format == GgmlType::F16 ? 2 : 4;
  int64_t count = int64_t(got.size()) / width;
  for (int64_t i = 0; i < count; ++i) {
    if (std::memcmp(got.data() + width * i, ref.data() + width * i, width) == 0) {
      ++e.elements;
      continue;
    }
    double g, r;
    if (a.data == ArgData::I32) {
      int32_t gi, ri;
      std::memcpy(&gi, got.data() + 4 * i, 4);
      std::memcpy(&ri, ref.data() + 4 * i, 4);
      g = gi, r = ri;
    } else if (width == 2) {
      uint16_t gh, rh;
      std::memcpy(&gh, got.data() + 2 * i, 2);
      std::memcpy(&rh, ref.data() + 2 * i, 2);
      g = halfToFloat(gh), r = halfToFloat(rh);
    } else {
      g = f32At(got, i), r = f32At(ref, i);
    }
    // Different bits are a mismatch even for equal values (-0, NaNs).
    double abs = std::isnan(g - r) || g == r ? INFINITY : std::fabs(g - r);
    e.add(abs, abs / std::max(std::fabs(r), 1e-30), at(a, i / a.cols, i % a.cols));
  }
  return e;
}

// --- Running a kernel on a target --------------------------------------------

// One target's compiled kernels on the device they make: each call's
// buffers are allocated there, written from the host, launched on, and
// read back whole (inputs too, to see that they were left alone).
class KernelRunner {
public:
  KernelRunner(codegen::Program program, unsigned threads)
      : program_(std::move(program)), pool_(threads) {}

  Status open() {
    auto device = program_.kernels->createDevice(pool_);
    if (!device)
      return std::move(device).takeError();
    device_ = std::move(device).value();
    return Status::success();
  }
  std::string deviceName() const { return program_.kernels->deviceName(); }

  // `args` is kernelArgs(d, rows); a weight the description reads in
  // another layout than the file's is written in that layout, as the
  // executor loads it, and read back in the file's.
  Status run(size_t kernel, const KernelDesc &d, const std::vector<ArgInfo> &infos,
             std::vector<std::vector<uint8_t>> &buffers, int64_t rows, int64_t position) {
    std::vector<void *> args;
    std::vector<std::vector<uint8_t>> written = buffers;
    Status status;
    for (size_t i = 0; i < written.size() && status.ok(); ++i) {
      runtime::WeightLayout layout = layoutOf(d, infos[i]);
      if (layout != runtime::WeightLayout::Gguf) {
        auto packed = runtime::repackWeight(layout, infos[i].format, written[i], infos[i].rows,
                                            infos[i].cols);
        if (!packed) {
          status = packed.error();
          break;
        }
        written[i].assign(packed->begin(), packed->end());
      }
      std::vector<uint8_t> &b = written[i];
      void *p = device_->allocate(b.size());
      if (!p) {
        status = makeError("the device could not allocate ", std::to_string(b.size()),
                           " bytes");
        break;
      }
      args.push_back(p);
      status = device_->write(p, b.data(), b.size());
    }
    if (status.ok()) {
      runtime::Launch launch;
      launch.kernel = uint32_t(kernel);
      launch.args = args.data();
      launch.rows = rows;
      launch.position = position;
      device_->launch(launch);
      status = device_->synchronize();
    }
    for (size_t i = 0; status.ok() && i < buffers.size(); ++i) {
      std::vector<uint8_t> back(written[i].size());
      status = device_->read(args[i], back.data(), back.size());
      // A repacked weight left as written still holds the file's bytes
      // (buffers[i]); one the kernel changed is handed back as it is.
      if (layoutOf(d, infos[i]) == runtime::WeightLayout::Gguf || back != written[i])
        buffers[i] = std::move(back);
    }
    for (void *p : args)
      device_->release(p);
    return status;
  }

  static runtime::WeightLayout layoutOf(const KernelDesc &d, const ArgInfo &info) {
    if (d.kind != KernelKind::Matmul || info.data != ArgData::WeightRows)
      return runtime::WeightLayout::Gguf;
    for (size_t p = 0; p < d.matmul.parts.size(); ++p)
      if (info.name == "weight" + std::to_string(p))
        return d.matmul.parts[p].layout;
    return runtime::WeightLayout::Gguf;
  }

private:
  codegen::Program program_;
  runtime::ThreadPool pool_;
  std::unique_ptr<runtime::Device> device_;
};

// The descriptions compiled as one module of the target, kernel i named
// "k<i>".
std::unique_ptr<KernelRunner> compileKernels(const std::string &target,
                                             const std::vector<KernelDesc> &descs,
                                             std::string &error) {
  codegen::LoweredModel lowered;
  lowered.kernels = descs;
  for (size_t i = 0; i < descs.size(); ++i)
    lowered.plan.kernelSymbols.push_back("k" + std::to_string(i));
  auto found = codegen::findTarget(target);
  if (!found) {
    error = found.error().message;
    return nullptr;
  }
  // The spec only names the model; the kernels depend on their
  // descriptions alone.
  auto file = GgufFile::open(sharedModels().front());
  if (!file) {
    error = file.error().message;
    return nullptr;
  }
  auto spec = ModelSpec::fromGguf(*file);
  if (!spec) {
    error = spec.error().message;
    return nullptr;
  }
  codegen::CompileOptions options;
  options.target = target;
  auto program = (*found)->compile(std::move(spec).value(), std::move(lowered), options);
  if (!program) {
    error = program.error().message;
    return nullptr;
  }
  auto runner = std::make_unique<KernelRunner>(std::move(program).value(), 2);
  Status opened = runner->open();
  if (!opened.ok()) {
    error = opened.message();
    return nullptr;
  }
  return runner;
}

// --- The test --------------------------------------------------------------------

struct KindReport {
  Errors errors;
  Tolerance tolerance;
  int64_t descs = 0, calls = 0;
  bool failed = false;
};

class KernelConformance : public testing::TestWithParam<std::string> {};

TEST_P(KernelConformance, EveryDescriptionMatchesTheReference) {
  const std::string target = GetParam();
  std::vector<std::string> built = codegen::builtTargetNames();
  if (std::find(built.begin(), built.end(), target) == built.end())
    GTEST_SKIP() << "the " << target << " target is not built in this kiln; its "
                 << "kernels were not checked";
  // A target whose device this machine lacks (CUDA without a GPU) is
  // skipped, not passed; tests/e2e/cuda_ptx.sh checks its code here.
  if (auto found = codegen::findTarget(target); found)
    if (Status runnable = (*found)->checkRunnable(); !runnable)
      GTEST_SKIP() << "the " << target << " target cannot run here: " << runnable.message();
  ASSERT_FALSE(sharedModels().empty())
      << "no tinyshakes models under " << test::sharedModelsDir();

  auto start = std::chrono::steady_clock::now();
  Collected collected = collectDescs(target);
  ASSERT_FALSE(collected.descs.empty());
  auto lowered = std::chrono::steady_clock::now();
  std::string error;
  std::unique_ptr<KernelRunner> runner = compileKernels(target, collected.descs, error);
  ASSERT_TRUE(runner) << error;
  auto compiled = std::chrono::steady_clock::now();

  std::map<std::string, KindReport> reports;
  std::mt19937 rng(20240611);
  WeightCache weights;
  for (size_t k = 0; k < collected.descs.size(); ++k) {
    const KernelDesc &d = collected.descs[k];
    std::string label = codegen::kernelLabel(d);
    // Reported per kind and, where it changes the arithmetic, per weight
    // format, activation format and KV cache type.
    std::string kind = label;
    if (d.kind == KernelKind::Matmul || d.kind == KernelKind::Embedding ||
        d.kind == KernelKind::RoundActivations ||
        d.kind == KernelKind::QuantizeActivations || d.norm.convert != RowConversion::None)
      kind += std::string(" ") + std::string(ggmlTypeInfo(d.format).name);
    if (d.kind == KernelKind::Matmul && d.matmul.activations != GgmlType::F32)
      kind += std::string(" x ") + std::string(ggmlTypeInfo(d.matmul.activations).name);
    if (d.kind == KernelKind::Attention || d.kind == KernelKind::FlashAttention ||
        d.kind == KernelKind::KvStore)
      kind += d.attention.kvHalf ? " f16 kv" : " f32 kv";
    if (d.attention.numKvHeads != d.attention.numHeads)
      kind += " gqa";
    if (d.kind == KernelKind::Rope)
      kind += std::string(d.rope.neox ? " neox" : " normal") +
              (d.rope.ropeDims < d.rope.headDim ? " partial" : "");
    KindReport &report = reports[kind];
    report.tolerance = toleranceFor(d);
    ++report.descs;
    for (Case c : kCases) {
      if (d.attention.contextLength > 0 && c.position + c.rows > d.attention.contextLength)
        continue;
      std::vector<ArgInfo> args = test::kernelArgs(d, c.rows, kVocab);
      std::vector<std::vector<uint8_t>> inputs =
          makeInputs(d, args, c.rows, c.position, rng, weights);
      std::vector<std::vector<uint8_t>> expected = inputs, got = inputs;
      std::vector<std::span<uint8_t>> spans;
      for (auto &b : expected)
        spans.push_back(b);
      test::runReference(d, spans, c.rows, c.position);
      Status ran = runner->run(k, d, args, got, c.rows, c.position);
      ++report.calls;
      if (!ran.ok()) {
        ADD_FAILURE() << target << " " << d.key() << " (" << kind << ") rows " << c.rows
                      << " position " << c.position << ": " << ran.message();
        report.failed = true;
        continue;
      }

      const Tolerance &tol = report.tolerance;
      Errors callErrors;
      bool stepExceeded = false;
      std::string problem;
      for (size_t i = 0; i < args.size(); ++i) {
        const ArgInfo &a = args[i];
        if (a.role == ArgRole::Input) {
          if (got[i] != inputs[i])
            problem = "the kernel wrote its input " + a.name;
          continue;
        }
        Errors e;
        if (a.data == ArgData::F32Rows)
          e = compareF32Rows(a, got[i], expected[i], tol, stepExceeded);
        else if (a.data == ArgData::QuantRows)
          e = compareQuantRows(a, got[i], expected[i], tol, stepExceeded, problem);
        else
          e = compareBits(a, got[i], expected[i]);
        callErrors.merge(e);
      }
      double allowedFlips = tol.flips * double(callErrors.elements);
      bool ok = problem.empty() && !stepExceeded && callErrors.bounded <= tol.relative &&
                double(callErrors.flips) <= allowedFlips;
      EXPECT_TRUE(ok) << target << " " << d.key() << " (" << kind << ", from "
                      << collected.origins[k] << ") rows " << c.rows << " position "
                      << c.position << ": max rel error " << callErrors.bounded
                      << " (tolerance " << tol.relative << ": " << tol.why << "), "
                      << callErrors.flips << " of " << callErrors.elements
                      << " elements one step off (allowed " << allowedFlips << ")"
                      << (stepExceeded ? ", some by more than one step" : "")
                      << "; worst " << callErrors.maxRel << " at " << callErrors.worst
                      << ", max abs " << callErrors.maxAbs
                      << (problem.empty() ? "" : "; " + problem);
      report.failed |= !ok;
      report.errors.merge(callErrors);
    }
  }
  auto done = std::chrono::steady_clock::now();

  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("kernel conformance on %s (%s): %zu descriptions, collected in %.1f s, compiled "
              "in %.1f s, run and checked in %.1f s\n",
              target.c_str(), runner->deviceName().c_str(), collected.descs.size(),
              seconds(start, lowered),
              seconds(lowered, compiled), seconds(compiled, done));
  // max rel: over the elements the tolerance judges; flips: converted
  // values one step off (allowed: a fraction of the elements).
  std::printf("  %-40s %5s %5s %10s %10s %9s %6s  %s\n", "kind", "descs", "calls", "max abs",
              "max rel", "tolerance", "flips", "");
  for (const auto &[kind, r] : reports)
    std::printf("  %-40s %5lld %5lld %10.3g %10.3g %9.3g %6lld  %s\n", kind.c_str(),
                (long long)r.descs, (long long)r.calls, r.errors.maxAbs, r.errors.bounded,
                r.tolerance.relative, (long long)r.errors.flips, r.failed ? "FAILED" : "ok");
}

INSTANTIATE_TEST_SUITE_P(Targets, KernelConformance, testing::Values("cpu", "opencl", "cuda"),
                         [](const testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

} // namespace
} // namespace kiln
