// OpenCL C kernels that put activations in the form the matmuls after them
// read (RoundActivations, QuantizeActivations), and the same conversion for
// a norm fused with it (NormSource.cpp). Semantics and layouts are those of
// the CPU kernels (codegen/cpu/ActivationEmitter.cpp):
// - rounding writes f32 values: the row rounded to f16 or bf16, or
//   quantized to q8 blocks and dequantized again;
// - quantizing writes the q8 row layout of QuantizedActivations.h.
// q8_0 blocks (32): amax = max |x|, d = amax / 127 stored f16-rounded,
// q = round-half-even(x * 127 / amax); s = f16(d_unrounded * sum q).
// q8_K blocks (256): the first value of largest magnitude maps to -127,
// q = min(127, round-half-even(x * -127 / extreme)), d = 1 / multiplier in
// f32; sums of q per 16.
//
// Every kernel is one work-group per row (dimension 1). f16/bf16 rounding
// goes element by element; q8 stages the row in __local memory, then a
// helper of activationPreamble() that every work-item of the group calls
// converts it.

#include "codegen/KernelDesc.h"
#include "codegen/QuantizedActivations.h"
#include "codegen/opencl/OpenClSource.h"

#include <string>
#include <utility>

namespace kiln::codegen::opencl {

std::string activationPreamble() {
  return R"CL(
// ---- activation rounding and q8 quantization (ActivationSource.cpp) ----

// v rounded to bf16 as ggml rounds it (nearest even on the upper 16 bits;
// NaNs stay NaN, made quiet), as a float.
inline float kiln_round_bf16(float v) {
  uint bits = as_uint(v);
  uint upper;
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    upper = bits | 0x400000u;
  else
    upper = bits + 0x7fffu + ((bits >> 16) & 1u);
  return as_float(upper & 0xffff0000u);
}

// Compensated sums, close to the CPU norms' sums in double: a + b = *s + *e
// exactly (*s the rounded sum).
inline void kiln_act_two_sum(float a, float b, float *s, float *e) {
  float sum = a + b;
  float bv = sum - a;
  *e = (a - (sum - bv)) + (b - bv);
  *s = sum;
}

// Adds term to the compensated sum (*hi, *lo).
inline void kiln_act_sum_add(float *hi, float *lo, float term) {
  float s, e;
  kiln_act_two_sum(*hi, term, &s, &e);
  *hi = s;
  *lo += e;
}

// The work-group's total of every work-item's compensated sum (hi, lo),
// divided by `divisor`, returned to all of them: local size L (a power of
// two), scratch __local float[2 * L]. Every work-item calls it.
inline float kiln_act_group_mean(__local float *scratch, float hi, float lo, int L,
                                 float divisor) {
  int lid = get_local_id(0);
  scratch[lid] = hi;
  scratch[L + lid] = lo;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int half_ = L / 2; half_ > 0; half_ >>= 1) {
    if (lid < half_) {
      float s, e;
      kiln_act_two_sum(scratch[lid], scratch[lid + half_], &s, &e);
      float low = scratch[L + lid] + scratch[L + lid + half_] + e;
      float total = s + low;
      scratch[lid] = total;
      scratch[L + lid] = low - (total - s);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float sumHi = scratch[0], sumLo = scratch[L];
  barrier(CLK_LOCAL_MEM_FENCE);
  float q = sumHi / divisor;
  float remainder = fma(-q, divisor, sumHi) + sumLo; // exact first term
  return q + remainder / divisor;
}

// The scale of the q8_0 block of 32 at x: q = rint(x * *multiplier),
// value = q * *step (d, f16-rounded); *unrounded is d before rounding.
inline void kiln_q8_0_scale(__local const float *x, float *multiplier, float *step,
                            float *unrounded) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j)
    amax = fmax(amax, fabs(x[j]));
  float d = amax / 127.0f;
  *multiplier = amax > 0.0f ? 127.0f / amax : 0.0f;
  *step = kiln_round_f16(d);
  *unrounded = d;
}

// The first of `count` values at x of largest magnitude, sign kept (0 if
// all are 0).
inline float kiln_q8_k_extreme(__local const float *x, int count) {
  float extreme = 0.0f;
  for (int j = 0; j < count; ++j) {
    float v = x[j];
    if (fabs(v) > fabs(extreme))
      extreme = v;
  }
  return extreme;
}

// The scale of a q8_K block whose extreme value is `extreme`:
// q = min(127, rint(x * *multiplier)), value = q * *step (d, f32).
inline void kiln_q8_k_scale(float extreme, float *multiplier, float *step) {
  bool nonzero = extreme < 0.0f || extreme > 0.0f;
  float inverse = -127.0f / extreme;
  *multiplier = nonzero ? inverse : 0.0f;
  *step = nonzero ? 1.0f / inverse : 0.0f;
}

// Row helpers. Every work-item of the group (local size L) calls one once
// the n floats of `row` (__local) are written; the helper's first barrier
// makes them visible. `out` is the row's output: n floats (round), or the
// quantized row of QuantizedActivations.h with d[] at byte scalesOffset
// and s[] / sums[] at byte extraOffset (quantize).

inline void kiln_round_row_f16(__local const float *row, int n, int L,
                               __global float *out) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int i = get_local_id(0); i < n; i += L)
    out[i] = kiln_round_f16(row[i]);
}

inline void kiln_round_row_bf16(__local const float *row, int n, int L,
                                __global float *out) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int i = get_local_id(0); i < n; i += L)
    out[i] = kiln_round_bf16(row[i]);
}

// q8_0 (one block of 32 per work-item at a time).
inline void kiln_round_row_q8_0(__local const float *row, int n, int L,
                                __global float *out) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int b = get_local_id(0); b < n / 32; b += L) {
    __local const float *x = row + 32 * b;
    float multiplier, step, unrounded;
    kiln_q8_0_scale(x, &multiplier, &step, &unrounded);
    for (int j = 0; j < 32; ++j)
      out[32 * b + j] = rint(x[j] * multiplier) * step;
  }
}

inline void kiln_quantize_row_q8_0(__local const float *row, int n, int L,
                                   __global uchar *out, int scalesOffset,
                                   int extraOffset) {
  barrier(CLK_LOCAL_MEM_FENCE);
  __global char *q = (__global char *)out;
  __global float *d = (__global float *)(out + scalesOffset);
  __global float *s = (__global float *)(out + extraOffset);
  for (int b = get_local_id(0); b < n / 32; b += L) {
    __local const float *x = row + 32 * b;
    float multiplier, step, unrounded;
    kiln_q8_0_scale(x, &multiplier, &step, &unrounded);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      int v = (int)rint(x[j] * multiplier);
      q[32 * b + j] = (char)v;
      sum += v;
    }
    d[b] = step;
    s[b] = kiln_round_f16(unrounded * (float)sum);
  }
}

// q8_K: first each group of 16's extreme into extremes (__local
// float[n / 16]), then one group of 16 per work-item at a time, its
// block's extreme the extreme of its 16 groups' (first wins, as in order).
inline void kiln_q8_k_group_extremes(__local const float *row, int n, int L,
                                     __local float *extremes) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int g = get_local_id(0); g < n / 16; g += L)
    extremes[g] = kiln_q8_k_extreme(row + 16 * g, 16);
  barrier(CLK_LOCAL_MEM_FENCE);
}

inline void kiln_round_row_q8_k(__local const float *row, int n, int L,
                                __local float *extremes, __global float *out) {
  kiln_q8_k_group_extremes(row, n, L, extremes);
  for (int g = get_local_id(0); g < n / 16; g += L) {
    float multiplier, step;
    kiln_q8_k_scale(kiln_q8_k_extreme(extremes + (g & ~15), 16), &multiplier, &step);
    for (int j = 16 * g; j < 16 * g + 16; ++j)
      out[j] = fmin(rint(row[j] * multiplier), 127.0f) * step;
  }
}

inline void kiln_quantize_row_q8_k(__local const float *row, int n, int L,
                                   __local float *extremes, __global uchar *out,
                                   int scalesOffset, int extraOffset) {
  kiln_q8_k_group_extremes(row, n, L, extremes);
  __global char *q = (__global char *)out;
  __global float *d = (__global float *)(out + scalesOffset);
  __global int *sums = (__global int *)(out + extraOffset);
  for (int g = get_local_id(0); g < n / 16; g += L) {
    float multiplier, step;
    kiln_q8_k_scale(kiln_q8_k_extreme(extremes + (g & ~15), 16), &multiplier, &step);
    int sum = 0;
    for (int j = 16 * g; j < 16 * g + 16; ++j) {
      int v = (int)fmin(rint(row[j] * multiplier), 127.0f);
      q[j] = (char)v;
      sum += v;
    }
    sums[g] = sum;
    if ((g & 15) == 0)
      d[g / 16] = step;
  }
}
)CL";
}

// Declared in NormSource.cpp, which shares it. The conversion of row `t`
// of a kernel whose element i is the expression `value` (of `i` and the
// kernel's variables): `first` the kernel-scope __local declarations,
// `second` the statements that compute the row and write it converted to
// plan argument `outArg`; every work-item runs them. Rounding to f16/bf16
// goes element by element; q8 stages the row in `__local float row[cols]`
// for the block scales.
Result<std::pair<std::string, std::string>>
rowConversion(RowConversion convert, GgmlType format, int64_t cols, uint32_t local,
              uint32_t outArg, const std::string &value, const DeviceFacts &facts) {
  std::string n = std::to_string(cols), L = std::to_string(local);
  std::string out = std::to_string(outArg);
  std::string loop = "  for (int i = get_local_id(0); i < " + n + "; i += " + L + ")\n";
  bool q8 = format == GgmlType::Q8_0 || format == GgmlType::Q8_K ||
            (convert == RowConversion::Round && format == GgmlType::Q8_1);
  bool kBlocks = format == GgmlType::Q8_K;
  if (convert == RowConversion::None)
    return makeError("OpenCL activation conversion: no conversion asked");
  if (convert == RowConversion::Quantize && !q8)
    return makeError("the OpenCL target cannot quantize activations to ",
                     std::string(ggmlTypeInfo(format).name));
  if (convert == RowConversion::Round && !q8) {
    if (format != GgmlType::F16 && format != GgmlType::BF16)
      return makeError("the OpenCL target cannot round activations to ",
                       std::string(ggmlTypeInfo(format).name));
    std::string round = format == GgmlType::F16 ? "kiln_round_f16" : "kiln_round_bf16";
    std::string statements = "  __global float *out = KILN_ARG(" + out + ", float) + t * " +
                             n + ";\n" + loop + "    out[i] = " + round + "(" + value +
                             ");\n";
    return std::make_pair(std::string(), std::move(statements));
  }
  if (cols % (kBlocks ? 256 : 32) != 0)
    return makeError("OpenCL activation conversion: ", n, " columns are not whole ",
                     std::string(ggmlTypeInfo(format).name), " blocks");
  // the row, q8_K's extremes, and a norm's sum scratch (2 floats per item)
  uint64_t localBytes = 4 * uint64_t(cols) + (kBlocks ? 4 * uint64_t(cols / 16) : 0);
  if (facts.localMemBytes != 0 && localBytes + 8 * uint64_t(local) > facts.localMemBytes)
    return makeError("OpenCL activation conversion: a row of ", n,
                     " floats does not fit the device's local memory (",
                     std::to_string(facts.localMemBytes), " bytes)");

  std::string locals = "  __local float row[" + n + "];\n";
  if (kBlocks)
    locals += "  __local float extremes[" + std::to_string(cols / 16) + "];\n";
  std::string statements = loop + "    row[i] = " + value + ";\n";
  std::string scratch = kBlocks ? ", extremes" : "";
  if (convert == RowConversion::Round) {
    std::string helper = kBlocks ? "kiln_round_row_q8_k" : "kiln_round_row_q8_0";
    statements += "  " + helper + "(row, " + n + ", " + L + scratch + ", KILN_ARG(" + out +
                  ", float) + t * " + n + ");\n";
  } else {
    QuantizedRowLayout layout = quantizedRowLayout(format, cols);
    std::string helper = kBlocks ? "kiln_quantize_row_q8_k" : "kiln_quantize_row_q8_0";
    statements += "  " + helper + "(row, " + n + ", " + L + scratch + ", KILN_ARG(" + out +
                  ", uchar) + t * " + std::to_string(layout.rowBytes) + ", " +
                  std::to_string(layout.scalesOffset) + ", " +
                  std::to_string(layout.extraOffset) + ");\n";
  }
  return std::make_pair(std::move(locals), std::move(statements));
}

Result<KernelSource> emitActivationSource(const KernelDesc &d, const std::string &name,
                                          const DeviceFacts &facts) {
  RowConversion convert;
  if (d.kind == KernelKind::RoundActivations)
    convert = RowConversion::Round;
  else if (d.kind == KernelKind::QuantizeActivations)
    convert = RowConversion::Quantize;
  else
    return makeError("the OpenCL activation kernels have no ", kernelKindName(d.kind));
  const uint32_t local = 64;
  auto conversion = rowConversion(convert, d.format, d.cols, local, 1, "x[i]", facts);
  if (!conversion)
    return std::move(conversion).takeError();
  std::string n = std::to_string(d.cols);

  KernelSource source;
  source.argCount = 2; // x, out
  source.launch.local = local;
  source.launch.groups = 1;
  source.launch.perRow = true;
  source.text = kernelSignature(name, source.argCount) + " {\n" + conversion->first +
                "  const long t = get_group_id(1);\n"
                "  __global const float *x = KILN_ARG(0, float) + t * " + n + ";\n" +
                conversion->second + "}\n";
  return source;
}

} // namespace kiln::codegen::opencl
