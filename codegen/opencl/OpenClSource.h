// The OpenCL C back end: each kernel description of a plan becomes one
// __kernel function of OpenCL C, specialized (every shape and constant a
// literal) as the CPU's LLVM kernels are, and launched as its emitter says.
// The kernels read and write exactly the buffers the CPU kernels do (same
// plan, same layouts: QuantizedActivations.h, the f16/f32 KV cache), so a
// plan runs on either target.
//
// Conventions every emitter follows:
// - The signature is kernelSignature(name, argCount): per plan argument i
//   (Step::args order, as the CPU kernel takes them) `__global uchar *aI,
//   ulong oI`, then `long rows, long position`. KILN_ARG(I, T) is argument I
//   as a `__global T *` (buffer plus offset).
// - Baseline OpenCL C 1.2: f32 arithmetic, halves only through
//   vload_half/vstore_half (no cl_khr_fp16), reductions through local
//   memory with barriers (no subgroups). Code that wants fp16 or subgroups
//   asks DeviceFacts and keeps the baseline as the fallback.
// - Helpers shared by several kernels live in a preamble (functions named
//   kiln_*); a kernel's own helpers are static inline and prefixed with the
//   kernel's name, so kernels never clash in one program.
#pragma once

#include "codegen/KernelDesc.h"
#include "runtime/opencl/OpenClModule.h"
#include "support/Result.h"

#include <string>

namespace kiln::codegen::opencl {

using runtime::opencl::DeviceFacts;
using runtime::opencl::LaunchShape;

struct KernelSource {
  std::string text;     // the __kernel function (and its static helpers)
  uint32_t argCount = 0;
  LaunchShape launch;
};

// "__kernel void NAME(__global uchar *a0, ulong o0, ..., long rows, long position)"
std::string kernelSignature(const std::string &name, uint32_t argCount);

// The whole program's preamble: KILN_ARG, half helpers (commonPreamble),
// then each family's shared helpers. commonPreamble has:
//   float kiln_load_half(__global const uchar *p), kiln_store_half(p, v)
//   float kiln_half_bits_to_float(ushort)
//   float kiln_round_f16(float)   (nearest half, ties to even, NaN stays NaN)
//   float kiln_silu(float), kiln_gelu(float)   (ggml's, f16-rounded GELU)
//   float kiln_group_sum(__local float *scratch, float v), kiln_group_max
//     (work-group reductions; local size a power of two, scratch one float
//     per work-item, every item calls and gets the result)
std::string commonPreamble(const DeviceFacts &facts);
// Weights in their GGUF blocks (WeightDecodeSource.cpp):
//   float kiln_load_<type>(__global const uchar *row, long k)
// element k of a row stored as <type> (ggml's lower-case name: f32, f16,
// bf16, q4_0, ..., q6_k), for every type decodableByOpenCl() accepts.
std::string weightDecodePreamble();
bool decodableByOpenCl(GgmlType type);
// Rope angles as the CPU computes them (AttentionSource.cpp):
//   float2 kiln_rope_cos_sin(long position, int pair, int ropeDims,
//                            float freqBase, float freqScale)
// (cos, sin) of rotation pair `pair` (0 .. ropeDims/2 - 1) at `position`.
std::string ropePreamble();
// Activation rounding and q8 quantization shared by the norms and the
// activation kernels (ActivationSource.cpp).
std::string activationPreamble();

// One family each; an error names what the family cannot emit.
Result<KernelSource> emitMatmulSource(const KernelDesc &d, const std::string &name,
                                      const DeviceFacts &facts);
Result<KernelSource> emitNormSource(const KernelDesc &d, const std::string &name,
                                    const DeviceFacts &facts); // RmsNorm, LayerNorm
Result<KernelSource> emitElementwiseSource(const KernelDesc &d, const std::string &name,
                                           const DeviceFacts &facts);
// Embedding, Positions, Add, Mul, Silu, Gelu, Softmax, SliceColumns, LastRow
Result<KernelSource> emitActivationSource(const KernelDesc &d, const std::string &name,
                                          const DeviceFacts &facts);
// RoundActivations, QuantizeActivations
Result<KernelSource> emitAttentionSource(const KernelDesc &d, const std::string &name,
                                         const DeviceFacts &facts);
// Rope, KvStore, Attention, FlashAttention

// Dispatches on the kind (OpenClSource.cpp).
Result<KernelSource> emitKernelSource(const KernelDesc &d, const std::string &name,
                                      const DeviceFacts &facts);

} // namespace kiln::codegen::opencl
