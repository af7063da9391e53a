// The attention family in OpenCL C: rope, the KV-cache store, attention
// and flash attention. Same buffers and layouts as the CPU kernels
// (codegen/cpu/AttentionEmitter.cpp): rows of `cols` floats; the KV cache
// of a layer is one row of kvWidth = numKvHeads * headDim per position,
// f32 or (kvHalf) f16; query head h reads KV head h / (numHeads /
// numKvHeads); row t of a call is at position `position + t` and attends
// to positions 0 .. position + t.
//
// The sums follow the CPU kernels' orders where that is cheap (the eight
// lane dot products, ggml's polynomial exp, the weighted value rows), so
// the results differ from the CPU's by float reordering at most.

#include "codegen/opencl/OpenClSource.h"

#include <algorithm>
#include <utility>
#include <cstdio>
#include <string>

namespace kiln::codegen::opencl {

namespace {

std::string num(int64_t v) { return std::to_string(v); }

// A float literal that is exactly `v` (hexadecimal, OpenCL C accepts C99's).
std::string lit(float v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%af", double(v));
  return buffer;
}

// The largest power of two <= min(want, the device's work-group limit).
uint32_t groupSize(uint32_t want, const DeviceFacts &facts) {
  uint64_t limit = facts.maxWorkGroup ? facts.maxWorkGroup : 1;
  uint64_t cap = std::min<uint64_t>(want, limit);
  uint32_t size = 1;
  while (uint64_t(size) * 2 <= cap)
    size *= 2;
  return size;
}

// Local memory the device gives a work-group (OpenCL 1.2's minimum when
// the facts do not say).
uint64_t localBytes(const DeviceFacts &facts) {
  return facts.localMemBytes ? facts.localMemBytes : 32768;
}

// Helpers every attention kernel of this file uses, prefixed with the
// kernel's name: ggml's exp, f16 rounding, the fixed eight-lane sums.
std::string attentionHelpers(const std::string &n, bool kvHalf, bool adjacent) {
  std::string t;
  // ggml's polynomial exp (AVX2 build), as GgmlNumerics.cpp describes it:
  // n = round(x / ln 2) by the shifter, r = x - n ln 2 in two parts, a
  // degree-5 polynomial, 2^n built in the exponent bits; |n| > 126 splits
  // 2^n in two factors, |n| > 192 over- or underflows.
  t += "static inline float " + n + "_exp(float x) {\n";
  t += R"CL(#pragma OPENCL FP_CONTRACT OFF
  const float shifter = 0x1.8p23f;
  float z = fma(x, 0x1.715476p+0f, shifter);
  float k = z - shifter;
  float r = fma(-k, 0x1.7f7d1cp-20f, fma(-k, 0x1.62e4p-1f, x));
  uint e = as_uint(z) << 23;
  float scale = as_float(e + 0x3f800000u);
  float r2 = r * r;
  float poly = fma(fma(fma(0x1.0e4020p-7f, r, 0x1.573e2ep-5f), r2,
                       fma(0x1.555e66p-3f, r, 0x1.fffdb6p-2f)),
                   r2, 0x1.ffffecp-1f * r);
  if (fabs(k) > 126.0f) {
    uint g = k <= 0.0f ? 0x82000000u : 0u;
    float s1 = as_float(g + 0x7f000000u);
    if (fabs(k) > 192.0f)
      return s1 * s1;
    float s2 = as_float(e - g);
    return fma(s2, poly, s2) * s1;
  }
  return fma(poly, scale, scale);
}
)CL";
  // expf as libm computes it (correctly rounded through double where the
  // device has it).
  t += "static inline float " + n + "_expf(float x) {\n";
  t += R"CL(#ifdef cl_khr_fp64
  return (float)exp((double)x);
#else
  return exp(x);
#endif
}
)CL";
  // ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))
  t += "static inline float " + n + "_sum_interleaved(float8 v) {\n";
  t += "#pragma OPENCL FP_CONTRACT OFF\n";
  t += "  return ((v.s0 + v.s4) + (v.s2 + v.s6)) + ((v.s1 + v.s5) + (v.s3 + v.s7));\n}\n";
  // ((l0+l4) + (l1+l5)) + ((l2+l6) + (l3+l7))
  if (adjacent) {
    t += "static inline float " + n + "_sum_adjacent(float8 v) {\n";
    t += "#pragma OPENCL FP_CONTRACT OFF\n";
    t += "  return ((v.s0 + v.s4) + (v.s1 + v.s5)) + ((v.s2 + v.s6) + (v.s3 + v.s7));\n}\n";
  }
  if (kvHalf) {
    // To f16 (nearest even) and back, where llama.cpp converts to f16.
    t += "static inline float " + n + "_round_half(float v) {\n";
    t += R"CL(  ushort bits;
  vstore_half_rte(v, 0, (__private half *)&bits);
  return vload_half(0, (__private const half *)&bits);
}
)CL";
  }
  return t;
}

// Element `index` (a C expression) of cache pointer `p`, as float; and
// eight of them from there.
std::string cacheLoad(bool kvHalf, const std::string &p, const std::string &index) {
  return kvHalf ? "vload_half(" + index + ", " + p + ")" : p + "[" + index + "]";
}
std::string cacheLoad8(bool kvHalf, const std::string &p, const std::string &index) {
  return kvHalf ? "vload_half8(0, " + p + " + " + index + ")"
                : "vload8(0, " + p + " + " + index + ")";
}

Status checkAttentionShape(const KernelDesc &d) {
  const AttentionDesc &a = d.attention;
  if (a.headDim <= 0 || a.numHeads <= 0 || a.numKvHeads <= 0 || a.contextLength <= 0)
    return makeError("OpenCL attention: head size, head counts and context length must be "
                     "positive");
  if (a.numHeads % a.numKvHeads != 0)
    return makeError("OpenCL attention: ", num(a.numHeads), " heads are not a multiple of ",
                     num(a.numKvHeads), " KV heads");
  if (d.cols != a.numHeads * a.headDim)
    return makeError("OpenCL attention: a query row of ", num(d.cols), " is not ",
                     num(a.numHeads), " heads of ", num(a.headDim));
  return Status::success();
}

// Rope: one work-group per row; its work-items take the rotation pairs,
// each computing its angle once and turning that pair in every head.
// Columns past rope_dims pass through.
Result<KernelSource> emitRope(const KernelDesc &d, const std::string &name,
                              const DeviceFacts &facts) {
  int64_t width = d.cols, hd = d.rope.headDim, dims = d.rope.ropeDims;
  if (hd <= 0 || width % hd != 0 || dims <= 0 || dims > hd)
    return makeError("OpenCL rope: row ", num(width), ", head ", num(hd), ", rope dims ",
                     num(dims), " do not fit");
  int64_t heads = width / hd, pairs = dims / 2;
  uint32_t local = groupSize(uint32_t(std::max<int64_t>(1, std::min<int64_t>(pairs, 64))), facts);
  std::string L = num(local);
  std::string t;
  t += kernelSignature(name, 2) + " {\n";
  t += "#pragma OPENCL FP_CONTRACT OFF\n";
  t += "  const long t = get_global_id(1);\n";
  t += "  if (t >= rows) return;\n";
  t += "  const int lid = (int)get_local_id(0);\n";
  t += "  __global const float *in = KILN_ARG(0, float) + t * " + num(width) + ";\n";
  t += "  __global float *res = KILN_ARG(1, float) + t * " + num(width) + ";\n";
  if (dims < hd) {
    t += "  for (int h = 0; h < " + num(heads) + "; ++h)\n";
    t += "    for (int c = " + num(dims) + " + lid; c < " + num(hd) + "; c += " + L + ")\n";
    t += "      res[h * " + num(hd) + " + c] = in[h * " + num(hd) + " + c];\n";
  }
  std::string i0 = d.rope.neox ? "i" : "2 * i";
  std::string i1 = d.rope.neox ? "i + " + num(dims / 2) : "2 * i + 1";
  t += "  for (int i = lid; i < " + num(pairs) + "; i += " + L + ") {\n";
  t += "    const float2 cs = kiln_rope_cos_sin(position + t, i, " + num(dims) + ", " +
       lit(d.rope.freqBase) + ", " + lit(d.rope.freqScale) + ");\n";
  t += "    for (int h = 0; h < " + num(heads) + "; ++h) {\n";
  t += "      const int a = h * " + num(hd) + " + " + i0 + ";\n";
  t += "      const int c = h * " + num(hd) + " + " + i1 + ";\n";
  t += "      const float x0 = in[a], x1 = in[c];\n";
  // As GCC contracts ggml's x0*cos - x1*sin: the first product fused.
  t += "      res[a] = fma(x0, cs.x, -(x1 * cs.y));\n";
  t += "      res[c] = fma(x0, cs.y, x1 * cs.x);\n";
  t += "    }\n  }\n}\n";
  KernelSource source;
  source.text = std::move(t);
  source.argCount = 2;
  source.launch = LaunchShape{local, 1, true};
  return source;
}

// KvStore: row t of k and v into the caches at position + t; one
// work-item per column.
Result<KernelSource> emitKvStore(const KernelDesc &d, const std::string &name,
                                 const DeviceFacts &facts) {
  int64_t width = d.cols;
  if (width <= 0)
    return makeError("OpenCL KV store: empty rows");
  uint32_t local = groupSize(uint32_t(std::min<int64_t>(width, 256)), facts);
  int64_t groups = (width + local - 1) / local;
  std::string W = num(width);
  std::string t;
  t += kernelSignature(name, 4) + " {\n";
  t += "  const long t = get_global_id(1);\n";
  t += "  const long c = get_global_id(0);\n";
  t += "  if (t >= rows || c >= " + W + ") return;\n";
  t += "  const float k = KILN_ARG(0, float)[t * " + W + " + c];\n";
  t += "  const float v = KILN_ARG(1, float)[t * " + W + " + c];\n";
  t += "  const long at = (position + t) * " + W + " + c;\n";
  if (d.attention.kvHalf) {
    t += "  vstore_half_rte(k, at, KILN_ARG(2, half));\n";
    t += "  vstore_half_rte(v, at, KILN_ARG(3, half));\n";
  } else {
    t += "  KILN_ARG(2, float)[at] = k;\n";
    t += "  KILN_ARG(3, float)[at] = v;\n";
  }
  t += "}\n";
  KernelSource source;
  source.text = std::move(t);
  source.argCount = 4;
  source.launch = LaunchShape{local, groups, true};
  return source;
}

// The start of both attention kernels: row, head, the head's q (rounded to
// f16 with kvHalf) in local memory, and the cache pointers of its KV head.
std::string attentionProlog(const KernelDesc &d) {
  int64_t hd = d.attention.headDim, group = d.attention.numHeads / d.attention.numKvHeads;
  std::string CT = d.attention.kvHalf ? "half" : "float";
  std::string t;
  t += "#pragma OPENCL FP_CONTRACT OFF\n";
  // No early return for rows past `rows` (dimension 1 is exactly the rows
  // in flight): PoCL 3.1 miscompiles a return before barriers, letting
  // work-items store past the loops that bound them.
  t += "  const long t = get_global_id(1);\n";
  t += "  const int h = (int)get_group_id(0);\n";
  t += "  const int lid = (int)get_local_id(0);\n";
  t += "  const long count = position + t + 1;\n";
  t += "  __global const float *qrow = KILN_ARG(0, float) + t * " + num(d.cols) + " + h * " +
       num(hd) + ";\n";
  t += "  __global const " + CT + " *kc = KILN_ARG(1, " + CT + ") + (h / " + num(group) +
       ") * " + num(hd) + ";\n";
  t += "  __global const " + CT + " *vc = KILN_ARG(2, " + CT + ") + (h / " + num(group) +
       ") * " + num(hd) + ";\n";
  t += "  __global float *orow = KILN_ARG(3, float) + t * " + num(d.cols) + " + h * " +
       num(hd) + ";\n";
  return t;
}

std::string queryToLocal(const KernelDesc &d, const std::string &n, const std::string &L) {
  std::string value = d.attention.kvHalf ? n + "_round_half(qrow[c])" : "qrow[c]";
  return "  for (int c = lid; c < " + num(d.attention.headDim) + "; c += " + L +
         ")\n    query[c] = " + value + ";\n  barrier(CLK_LOCAL_MEM_FENCE);\n";
}

// Attention: one work-group per (head, row). Work-items take positions for
// the scores (kept in local memory), then groups of eight for the exp, then
// head columns for the weighted values.
Result<KernelSource> emitAttention(const KernelDesc &d, const std::string &name,
                                   const DeviceFacts &facts) {
  if (Status s = checkAttentionShape(d); !s)
    return std::move(s).takeError();
  int64_t hd = d.attention.headDim, kvWidth = d.attention.numKvHeads * hd;
  int64_t padded = (d.attention.contextLength + 31) / 32 * 32;
  uint32_t local = groupSize(64, facts);
  uint64_t need = uint64_t(padded + hd + local) * 4 + uint64_t(local) * 8;
  if (need > localBytes(facts))
    return makeError("OpenCL attention: ", num(d.attention.contextLength),
                     " positions of scores need more local memory than the device's ",
                     num(int64_t(localBytes(facts))), " bytes (use flash attention)");
  std::string L = num(local), HD = num(hd), KVW = num(kvWidth);
  int64_t chunks = hd / 8;
  const std::string &n = name;
  bool half = d.attention.kvHalf;

  std::string t = attentionHelpers(n, half, true);
  t += kernelSignature(name, 4) + " {\n";
  t += attentionProlog(d);
  t += "  __local float query[" + HD + "];\n";
  t += "  __local float scores[" + num(padded) + "];\n";
  t += "  __local float maxes[" + L + "];\n";
  t += "#ifdef cl_khr_fp64\n  __local double sums[" + L + "];\n#else\n  __local float sums[" + L +
       "];\n#endif\n";
  t += queryToLocal(d, n, L);
  // Scores: as llama.cpp's sgemm for many rows (one eight-lane accumulator,
  // interleaved sum), as ggml_vec_dot_f16 for one (four accumulators over
  // chunks of 32, folded 0+2, 1+3, then 0+1, adjacent sum).
  t += "  float m = -INFINITY;\n";
  t += "  for (long j = lid; j < count; j += " + L + ") {\n";
  t += "    __global const " + std::string(half ? "half" : "float") + " *key = kc + j * " + KVW +
       ";\n";
  t += "    float dot;\n";
  t += "    if (rows > 1) {\n      float8 acc = (float8)(0.0f);\n";
  for (int64_t c = 0; c < chunks; ++c)
    t += "      acc = fma(vload8(0, query + " + num(8 * c) + "), " +
         cacheLoad8(half, "key", num(8 * c)) + ", acc);\n";
  t += "      dot = " + n + "_sum_interleaved(acc);\n";
  t += "    } else {\n      float8 acc0 = (float8)(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;\n";
  for (int64_t c = 0; c < chunks; ++c) {
    std::string acc = "acc" + num(c % 4);
    t += "      " + acc + " = fma(vload8(0, query + " + num(8 * c) + "), " +
         cacheLoad8(half, "key", num(8 * c)) + ", " + acc + ");\n";
  }
  t += "      dot = " + n + "_sum_adjacent((acc0 + acc2) + (acc1 + acc3));\n    }\n";
  for (int64_t c = 8 * chunks; c < hd; ++c)
    t += "    dot = fma(query[" + num(c) + "], " + cacheLoad(half, "key", num(c)) + ", dot);\n";
  t += "    const float s = dot * " + lit(d.attention.scale) + ";\n";
  t += "    scores[j] = s;\n    m = fmax(m, s);\n  }\n";
  // The maximum.
  t += "  maxes[lid] = m;\n  barrier(CLK_LOCAL_MEM_FENCE);\n";
  t += "  for (int stride = " + num(local / 2) + "; stride > 0; stride >>= 1) {\n";
  t += "    if (lid < stride) maxes[lid] = fmax(maxes[lid], maxes[lid + stride]);\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n  }\n";
  t += "  const float mx = maxes[0];\n";
  // exp(s - max) in groups of eight, each group's lanes summed in float,
  // the groups in double where the device has it.
  t += "#ifdef cl_khr_fp64\n  double sum = 0.0;\n#else\n  float sum = 0.0f;\n#endif\n";
  t += "  for (long g = lid; g < (count + 7) / 8; g += " + L + ") {\n";
  t += "    float8 s8 = vload8(0, scores + 8 * g);\n";
  t += "    float w[8];\n";
  t += "    for (int l = 0; l < 8; ++l)\n";
  t += "      w[l] = 8 * g + l < count ? " + n + "_exp(((float *)&s8)[l] - mx) : 0.0f;\n";
  t += "    float8 w8 = vload8(0, w);\n";
  t += "    vstore8(w8, 0, scores + 8 * g);\n";
  t += "    sum += " + n + "_sum_interleaved(w8);\n  }\n";
  t += "  sums[lid] = sum;\n  barrier(CLK_LOCAL_MEM_FENCE);\n";
  t += "  for (int stride = " + num(local / 2) + "; stride > 0; stride >>= 1) {\n";
  t += "    if (lid < stride) sums[lid] = sums[lid] + sums[lid + stride];\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n  }\n";
  t += "#ifdef cl_khr_fp64\n  const float inverse = (float)(1.0 / sums[0]);\n#else\n"
       "  const float inverse = 1.0f / sums[0];\n#endif\n";
  // The weights (rounded to f16 with kvHalf, as llama.cpp's V product
  // reads them).
  std::string weight = half ? n + "_round_half(scores[j] * inverse)" : "scores[j] * inverse";
  t += "  for (long j = lid; j < count; j += " + L + ")\n    scores[j] = " + weight + ";\n";
  t += "  barrier(CLK_LOCAL_MEM_FENCE);\n";
  // Weighted values: position j adds (FMA) into partial row j % 8 (many
  // rows) or j % 32 (one row); the rows are folded as the CPU's lanes.
  auto valuePass = [&](int64_t parts) {
    std::string P = num(parts);
    std::string s;
    s += "      float p[" + P + "];\n";
    s += "      for (int r = 0; r < " + P + "; ++r) p[r] = 0.0f;\n";
    s += "      for (long j0 = 0; j0 < count; j0 += " + P + ")\n";
    s += "        for (int r = 0; r < " + P + "; ++r) {\n";
    s += "          const long j = j0 + r;\n";
    s += "          if (j < count) p[r] = fma(scores[j], " +
         cacheLoad(half, "vc", "j * " + KVW + " + c") + ", p[r]);\n";
    s += "        }\n";
    if (parts == 8) {
      s += "      orow[c] = " + n + "_sum_interleaved(vload8(0, p));\n";
    } else {
      s += "      float8 lanes;\n";
      s += "      for (int l = 0; l < 8; ++l)\n";
      s += "        ((float *)&lanes)[l] = (p[l] + p[16 + l]) + (p[8 + l] + p[24 + l]);\n";
      s += "      orow[c] = " + n + "_sum_adjacent(lanes);\n";
    }
    return s;
  };
  t += hd <= int64_t(local) ? "  { const int c = lid; if (c < " + HD + ") {\n"
                            : "  for (int c = lid; c < " + HD + "; c += " + L + ") {{\n";
  t += "    if (rows > 1) {\n" + valuePass(8) + "    } else {\n" + valuePass(32) + "    }\n";
  t += "  }}\n}\n";
  KernelSource source;
  source.text = std::move(t);
  source.argCount = 4;
  source.launch = LaunchShape{local, d.attention.numHeads, true};
  return source;
}

// Flash attention: one work-group per (head, row); the positions in tiles
// of 32, spread over the work-items for the scores; every work-item keeps
// the running maximum and sum (the same numbers in all) and its head
// columns' output accumulators, rescaled per tile and then added w_j * v_j.
// Local memory does not grow with the context.
Result<KernelSource> emitFlashAttention(const KernelDesc &d, const std::string &name,
                                        const DeviceFacts &facts) {
  if (Status s = checkAttentionShape(d); !s)
    return std::move(s).takeError();
  constexpr int64_t kTile = 32;
  uint32_t local = groupSize(kTile, facts);
  int64_t hd = d.attention.headDim, kvWidth = d.attention.numKvHeads * hd;
  std::string L = num(local), T = num(kTile), HD = num(hd), KVW = num(kvWidth);
  int64_t perItem = (hd + local - 1) / local;
  // The CPU's dot: columns `vw` at a time (64, 32 or 8), each lane an FMA
  // chain over the chunks; the eight-lane parts added in order, then the
  // interleaved sum.
  int64_t vw = hd % 64 == 0 ? 64 : hd % 32 == 0 ? 32 : 8;
  int64_t chunks = hd / vw, parts = vw / 8;
  const std::string &n = name;
  bool half = d.attention.kvHalf;

  std::string t = attentionHelpers(n, half, false);
  t += kernelSignature(name, 4) + " {\n";
  t += attentionProlog(d);
  t += "  __local float query[" + HD + "];\n";
  t += "  __local float weights[" + T + "];\n";
  t += queryToLocal(d, n, L);
  t += "  float out[" + num(perItem) + "];\n";
  t += "  for (int i = 0; i < " + num(perItem) + "; ++i) out[i] = 0.0f;\n";
  t += "  float runningMax = -INFINITY, runningSum = 0.0f;\n";
  t += "  const long tiles = (count + " + num(kTile - 1) + ") / " + T + ";\n";
  t += "  for (long tile = 0; tile < tiles; ++tile) {\n";
  t += "    const long j0 = tile * " + T + ";\n";
  t += "    const int valid = (int)min(count - j0, (long)" + T + ");\n";
  t += "    for (int q = lid; q < valid; q += " + L + ") {\n";
  t += "      __global const " + std::string(half ? "half" : "float") + " *key = kc + (j0 + q) * " +
       KVW + ";\n";
  for (int64_t p = 0; p < parts; ++p)
    t += "      float8 acc" + num(p) + " = (float8)(0.0f);\n";
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t p = 0; p < parts; ++p) {
      std::string at = num(vw * c + 8 * p);
      t += "      acc" + num(p) + " = fma(vload8(0, query + " + at + "), " +
           cacheLoad8(half, "key", at) + ", acc" + num(p) + ");\n";
    }
  std::string folded = "acc0";
  for (int64_t p = 1; p < parts; ++p)
    folded = "(" + folded + " + acc" + num(p) + ")";
  t += "      float dot = " + n + "_sum_interleaved(" + folded + ");\n";
  // Head sizes that are not a multiple of 8: the rest one by one.
  for (int64_t c = vw * chunks; c < hd; ++c)
    t += "      dot = fma(query[" + num(c) + "], " + cacheLoad(half, "key", num(c)) + ", dot);\n";
  t += "      weights[q] = dot * " + lit(d.attention.scale) + ";\n";
  t += "    }\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n";
  t += "    float tileMax = -INFINITY;\n";
  t += "    for (int i = 0; i < valid; ++i) tileMax = fmax(tileMax, weights[i]);\n";
  t += "    const float newMax = fmax(runningMax, tileMax);\n";
  t += "    const float correction = " + n + "_expf(runningMax - newMax);\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n";
  // Weights of the tile; those past its end are zero.
  t += "    for (int q = lid; q < " + T + "; q += " + L + ")\n";
  t += "      weights[q] = q < valid ? " + n + "_exp(weights[q] - newMax) : 0.0f;\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n";
  t += "    float tileSum = 0.0f;\n";
  t += "    for (int g = 0; g < " + num(kTile / 8) + "; ++g)\n";
  t += "      tileSum = tileSum + " + n + "_sum_interleaved(vload8(g, weights));\n";
  t += "    runningSum = runningSum * correction + tileSum;\n";
  t += "    runningMax = newMax;\n";
  t += "    for (int i = 0; i < " + num(perItem) + "; ++i) {\n";
  t += "      const int c = lid + " + L + " * i;\n";
  if (hd % local != 0)
    t += "      if (c >= " + HD + ") break;\n";
  t += "      float acc = out[i] * correction;\n";
  t += "      for (int r = 0; r < valid; ++r)\n";
  t += "        acc = fma(weights[r], " + cacheLoad(half, "vc", "(j0 + r) * " + KVW + " + c") +
       ", acc);\n";
  t += "      out[i] = acc;\n    }\n";
  t += "    barrier(CLK_LOCAL_MEM_FENCE);\n";
  t += "  }\n";
  t += "  const float inverse = 1.0f / runningSum;\n";
  t += "  for (int i = 0; i < " + num(perItem) + "; ++i) {\n";
  t += "    const int c = lid + " + L + " * i;\n";
  t += "    if (c < " + HD + ") orow[c] = out[i] * inverse;\n";
  t += "  }\n}\n";
  KernelSource source;
  source.text = std::move(t);
  source.argCount = 4;
  source.launch = LaunchShape{local, d.attention.numHeads, true};
  return source;
}

} // namespace

std::string ropePreamble() {
  // llama.cpp's rope angle for pair i: p * freq_scale * base^(-2i/dims),
  // base^(-2/dims) (powf) raised step by step in float as ggml does; cos
  // and sin as libm gives them (through double where the device has it).
  return R"CL(
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
float2 kiln_rope_cos_sin(long position, int pair, int ropeDims, float freqBase,
                         float freqScale) {
#pragma OPENCL FP_CONTRACT OFF
  const float exponent = -2.0f / (float)ropeDims;
#ifdef cl_khr_fp64
  const float thetaScale = (float)pow((double)freqBase, (double)exponent);
#else
  const float thetaScale = pow(freqBase, exponent);
#endif
  float theta = (float)position;
  for (int i = 0; i < pair; ++i)
    theta = theta * thetaScale;
  theta = theta * freqScale;
#ifdef cl_khr_fp64
  return (float2)((float)cos((double)theta), (float)sin((double)theta));
#else
  return (float2)(cos(theta), sin(theta));
#endif
}
)CL";
}

Result<KernelSource> emitAttentionSource(const KernelDesc &d, const std::string &name,
                                         const DeviceFacts &facts) {
  switch (d.kind) {
  case KernelKind::Rope:
    return emitRope(d, name, facts);
  case KernelKind::KvStore:
    return emitKvStore(d, name, facts);
  case KernelKind::Attention:
    return emitAttention(d, name, facts);
  case KernelKind::FlashAttention:
    return emitFlashAttention(d, name, facts);
  default:
    break;
  }
  return makeError("the OpenCL attention family has no kernel for ", kernelKindName(d.kind));
}

} // namespace kiln::codegen::opencl
