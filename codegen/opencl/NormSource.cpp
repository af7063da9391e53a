// OpenCL C RMSNorm and LayerNorm kernels, in the CPU kernels' order of
// operations (codegen/cpu/NormEmitter.cpp):
//   rms:   scale = 1 / sqrt(sum(x^2) / n + eps);  y = (x * scale) * w
//   layer: mean = sum(x) / n;  var = sum((x - mean)^2) / n;
//          scale = 1 / sqrt(var + eps);  y = ((x - mean) * scale) * w + b
// The CPU sums in double, one term after another; here each work-item
// keeps a compensated f32 sum of its strided terms, then a tree in local
// memory adds them as compensated pairs (kiln_act_group_mean): nearly the
// same mean, not always bit exact. No contraction into FMAs, as on the CPU.
// With `convert` the row y is written as the matmul after it reads it
// (ActivationSource.cpp's rowConversion), never as f32.
//
// One work-group per row (dimension 1), `kLocal` work-items.

#include "codegen/KernelDesc.h"
#include "codegen/opencl/OpenClSource.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace kiln::codegen::opencl {

// ActivationSource.cpp.
Result<std::pair<std::string, std::string>>
rowConversion(RowConversion convert, GgmlType format, int64_t cols, uint32_t local,
              uint32_t outArg, const std::string &value, const DeviceFacts &facts);

namespace {

constexpr uint32_t kLocal = 64;

// An OpenCL C literal of exactly v (hexadecimal float).
std::string floatLiteral(float v) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", double(v));
  return std::string(text) + "f";
}

} // namespace

Result<KernelSource> emitNormSource(const KernelDesc &d, const std::string &name,
                                    const DeviceFacts &facts) {
  bool layer = d.kind == KernelKind::LayerNorm;
  if (!layer && d.kind != KernelKind::RmsNorm)
    return makeError("the OpenCL norm kernels have no ", kernelKindName(d.kind));
  if (d.cols <= 0)
    return makeError("OpenCL norm: a row of ", std::to_string(d.cols), " columns");
  if (!std::isfinite(d.norm.epsilon))
    return makeError("OpenCL norm: epsilon is not finite");

  KernelSource source;
  source.argCount = layer ? 4 : 3; // x, weight, [bias], out
  source.launch.local = kLocal;
  source.launch.groups = 1;
  source.launch.perRow = true;
  uint32_t outArg = source.argCount - 1;

  std::string n = std::to_string(d.cols), L = std::to_string(kLocal);
  std::string loop = "  for (int i = get_local_id(0); i < " + n + "; i += " + L + ") {\n";
  std::string value = layer ? "((x[i] - mean) * scale) * w[i] + b[i]" : "(x[i] * scale) * w[i]";
  std::string locals, write;
  if (d.norm.convert != RowConversion::None) {
    auto conversion =
        rowConversion(d.norm.convert, d.format, d.cols, kLocal, outArg, value, facts);
    if (!conversion)
      return std::move(conversion).takeError();
    locals = std::move(conversion->first);
    write = std::move(conversion->second);
  } else {
    write = "  __global float *y = KILN_ARG(" + std::to_string(outArg) + ", float) + t * " +
            n + ";\n" + loop + "    y[i] = " + value + ";\n  }\n";
  }
  std::string text = kernelSignature(name, source.argCount) + " {\n";
  text += "#pragma OPENCL FP_CONTRACT OFF\n";
  text += "  __local float partial[" + std::to_string(2 * kLocal) + "];\n" + locals;
  text += "  const long t = get_group_id(1);\n"
          "  __global const float *x = KILN_ARG(0, float) + t * " + n + ";\n"
          "  __global const float *w = KILN_ARG(1, float);\n";
  if (layer)
    text += "  __global const float *b = KILN_ARG(2, float);\n";
  std::string mean = "kiln_act_group_mean(partial, hi, lo, " + L + ", " + n + ".0f);\n";
  text += "  float hi = 0.0f, lo = 0.0f;\n";
  if (layer) {
    text += loop + "    kiln_act_sum_add(&hi, &lo, x[i]);\n  }\n";
    text += "  const float mean = " + mean;
    text += "  hi = 0.0f;\n  lo = 0.0f;\n";
    text += loop + "    float v = x[i] - mean;\n    kiln_act_sum_add(&hi, &lo, v * v);\n  }\n";
  } else {
    text += loop + "    float v = x[i];\n    kiln_act_sum_add(&hi, &lo, v * v);\n  }\n";
  }
  text += "  const float spread = " + mean;
  text += "  const float scale = 1.0f / sqrt(spread + " + floatLiteral(d.norm.epsilon) + ");\n";
  text += write + "}\n";
  source.text = std::move(text);
  return source;
}

} // namespace kiln::codegen::opencl
