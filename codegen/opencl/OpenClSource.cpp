#include "codegen/opencl/OpenClSource.h"

namespace kiln::codegen::opencl {

std::string kernelSignature(const std::string &name, uint32_t argCount) {
  std::string text = "__kernel void " + name + "(";
  for (uint32_t i = 0; i < argCount; ++i) {
    std::string index = std::to_string(i);
    text += "__global uchar *a" + index + ", ulong o" + index + ", ";
  }
  text += "long rows, long position)";
  return text;
}

std::string commonPreamble(const DeviceFacts &facts) {
  std::string text;
  if (facts.fp16)
    text += "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n#define KILN_FP16 1\n";
  if (facts.subgroups)
    text += "#pragma OPENCL EXTENSION cl_khr_subgroups : enable\n#define KILN_SUBGROUPS 1\n";
  text += R"CL(
// Plan argument I (buffer + byte offset) as a __global T *.
#define KILN_ARG(I, T) ((__global T *)(a##I + o##I))

// IEEE half <-> float through the core vload_half/vstore_half (no
// cl_khr_fp16 needed); stores round to nearest even.
inline float kiln_load_half(__global const uchar *p) {
  return vload_half(0, (__global const half *)p);
}
inline void kiln_store_half(__global uchar *p, float v) {
  vstore_half_rte(v, 0, (__global half *)p);
}
inline float kiln_half_bits_to_float(ushort h) {
  uint sign = (uint)(h & 0x8000u) << 16;
  uint exponent = (h >> 10) & 0x1fu;
  uint mantissa = h & 0x3ffu;
  if (exponent == 0u) {
    // zero or subnormal: mantissa * 2^-24
    float magnitude = (float)mantissa * 5.9604644775390625e-8f;
    return as_float(as_uint(magnitude) | sign);
  }
  if (exponent == 31u)
    return as_float(sign | 0x7f800000u | (mantissa << 13));
  return as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}
// v rounded to the nearest f16 (ties to even), as a float: what
// vstore_half_rte then vload_half give, done in integers (no half
// variables without cl_khr_fp16). Overflow gives inf; a NaN stays NaN,
// quiet, its payload cut to f16's 10 bits (as a conversion to f16 and back).
inline float kiln_round_f16(float v) {
  uint bits = as_uint(v);
  uint sign = bits & 0x80000000u;
  uint magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return as_float((bits | 0x00400000u) & 0xffffe000u);
  if (magnitude >= 0x477ff000u) // 65520 and above round to inf
    return as_float(sign | 0x7f800000u);
  if (magnitude < 0x38800000u) {
    // below f16's smallest normal: multiples of 2^-24 (exact scalings)
    float q = rint(as_float(magnitude) * 16777216.0f) * 5.9604644775390625e-8f;
    return as_float(sign | as_uint(q));
  }
  uint rounded = (magnitude + 0x0fffu + ((magnitude >> 13) & 1u)) & 0xffffe000u;
  return as_float(sign | rounded);
}

// ggml's SiLU, x / (1 + e^-x), and GELU in the tanh form its table gives:
// of x rounded to half, the result rounded to half; 0 at or below -10, x
// at or above 10. Not contracted into fma, as the CPU's.
inline float kiln_silu(float v) {
  #pragma OPENCL FP_CONTRACT OFF
  return v / (1.0f + exp(-v));
}
inline float kiln_gelu(float v) {
  #pragma OPENCL FP_CONTRACT OFF
  float h = kiln_round_f16(v);
  float inner = (0.7978845608028654f * h) * fma(0.044715f * h, h, 1.0f);
  float g = kiln_round_f16((0.5f * h) * (1.0f + tanh(inner)));
  return v <= -10.0f ? 0.0f : (v >= 10.0f ? v : g);
}

// Work-group reductions (`scratch` holds one float per work-item; the
// local size is a power of two); every work-item of the group must call
// them and gets the result. With subgroups each subgroup reduces in
// registers and only the subgroup totals go through local memory.
#ifdef KILN_SUBGROUPS
inline float kiln_group_sum(__local float *scratch, float value) {
  float part = sub_group_reduce_add(value);
  uint groups = get_num_sub_groups();
  if (get_sub_group_local_id() == 0)
    scratch[get_sub_group_id()] = part;
  barrier(CLK_LOCAL_MEM_FENCE);
  float total = 0.0f;
  for (uint i = 0; i < groups; ++i)
    total += scratch[i];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}
inline float kiln_group_max(__local float *scratch, float value) {
  float part = sub_group_reduce_max(value);
  uint groups = get_num_sub_groups();
  if (get_sub_group_local_id() == 0)
    scratch[get_sub_group_id()] = part;
  barrier(CLK_LOCAL_MEM_FENCE);
  float total = scratch[0];
  for (uint i = 1; i < groups; ++i)
    total = fmax(total, scratch[i]);
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}
#else
inline float kiln_group_sum(__local float *scratch, float value) {
  uint id = get_local_id(0), size = get_local_size(0);
  scratch[id] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint half_ = size / 2; half_ > 0; half_ /= 2) {
    if (id < half_)
      scratch[id] += scratch[id + half_];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float total = scratch[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}
inline float kiln_group_max(__local float *scratch, float value) {
  uint id = get_local_id(0), size = get_local_size(0);
  scratch[id] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint half_ = size / 2; half_ > 0; half_ /= 2) {
    if (id < half_)
      scratch[id] = fmax(scratch[id], scratch[id + half_]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float total = scratch[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}
#endif
)CL";
  return text;
}

Result<KernelSource> emitKernelSource(const KernelDesc &d, const std::string &name,
                                      const DeviceFacts &facts) {
  switch (d.kind) {
  case KernelKind::Matmul:
    return emitMatmulSource(d, name, facts);
  case KernelKind::RmsNorm:
  case KernelKind::LayerNorm:
    return emitNormSource(d, name, facts);
  case KernelKind::RoundActivations:
  case KernelKind::QuantizeActivations:
    return emitActivationSource(d, name, facts);
  case KernelKind::Rope:
  case KernelKind::KvStore:
  case KernelKind::Attention:
  case KernelKind::FlashAttention:
    return emitAttentionSource(d, name, facts);
  case KernelKind::Embedding:
  case KernelKind::Positions:
  case KernelKind::Add:
  case KernelKind::Mul:
  case KernelKind::Silu:
  case KernelKind::Gelu:
  case KernelKind::Softmax:
  case KernelKind::SliceColumns:
  case KernelKind::LastRow:
    return emitElementwiseSource(d, name, facts);
  }
  return makeError("the OpenCL target has no kernel for ", kernelKindName(d.kind));
}

} // namespace kiln::codegen::opencl
