// Weights in their GGUF blocks, read by OpenCL C kernels: one element of a
// row (kiln_load_<type>, for the float-dot matmul and anything that reads
// a weight element by element), and the integer dot product of one
// 32-element chunk of a weight row with the same chunk of a q8 activation
// row (kiln_qdot_<type>, for the integer-dot matmul).
//
// The arithmetic follows the reference decoders (frontend/quant/
// Dequantize.cpp) and the CPU kernels (codegen/llvm/WeightDecode.cpp,
// IntegerDot.cpp): a decoded weight is the same float, and an integer dot
// is an exact integer sum times the same float scales, so only the order
// of the float additions across chunks differs from the CPU.
//
// Block layouts (bytes; d, m, dmin are IEEE halves):
//   q4_0  18: d, qs[16]           element j: low nibble of qs[j], j+16 high
//   q4_1  20: d, m, qs[16]
//   q5_0  22: d, qh[4], qs[16]    fifth bit of element j: bit j of qh
//   q5_1  24: d, m, qh[4], qs[16]
//   q8_0  34: d, int8 qs[32]
//   q2_K  84: scales[16] (low nibble scale, high min per 16), qs[64], d, dmin
//   q3_K 110: hmask[32], qs[64], scales[12] (sixteen 6-bit, minus 32), d
//   q4_K 144: d, dmin, scales[12] (eight 6-bit scales, eight mins), qs[128]
//   q5_K 176: d, dmin, scales[12], qh[32], qs[128]
//   q6_K 210: ql[128], qh[64], int8 scales[16], d

#include "codegen/opencl/OpenClSource.h"

namespace kiln::codegen::opencl {

bool decodableByOpenCl(GgmlType type) {
  switch (type) {
  case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
  case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1:
  case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q2_K:
  case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
  case GgmlType::Q6_K:
    return true;
  default:
    return false;
  }
}

std::string weightDecodePreamble() {
  return R"CL(
// ---- weights in their GGUF blocks ----------------------------------------
// Decoded values are formed as the reference decoder forms them: no
// contraction into fused multiply-adds.

// Little-endian 32-bit word at p (any alignment).
inline uint kiln_wd_u32(__global const uchar *p) {
  return (uint)p[0] | ((uint)p[1] << 8) | ((uint)p[2] << 16) | ((uint)p[3] << 24);
}

// Q4_K/Q5_K: sub-block s (0..7) of the eight 6-bit scales and mins packed
// in 12 bytes.
inline int2 kiln_wd_q4k_scale_min(__global const uchar *scales, int s) {
  if (s < 4)
    return (int2)(scales[s] & 63, scales[s + 4] & 63);
  return (int2)((scales[s + 4] & 15) | ((scales[s - 4] >> 6) << 4),
                (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4));
}

// Q3_K: scale s (0..15), low nibble from bytes 0..7, two high bits from
// byte 8 + s%4 at bit pair s/4, minus 32.
inline int kiln_wd_q3k_scale(__global const uchar *scales, int s) {
  int low = s < 8 ? (scales[s] & 15) : (scales[s - 8] >> 4);
  int high = (scales[8 + (s & 3)] >> (2 * (s >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

// Q2_K/Q3_K 2-bit quant of element i (0..255): halves of 128; byte l of
// a half's 32 holds elements l, l+32, l+64, l+96 at bits 0, 2, 4, 6.
inline int kiln_wd_two_bit(__global const uchar *qs, int i) {
  return (qs[32 * (i >> 7) + (i & 31)] >> (2 * ((i & 127) >> 5))) & 3;
}

// Q4_K/Q5_K 4-bit quant of element i: 64-element groups; byte l of group
// g holds element 64g+l (low nibble) and 64g+32+l (high nibble).
inline int kiln_wd_four_bit_k(__global const uchar *qs, int i) {
  uchar byte = qs[32 * (i >> 6) + (i & 31)];
  return (i & 32) ? (byte >> 4) : (byte & 15);
}

// Element j (0..31) of a 32-block of 16 nibbles.
inline int kiln_wd_nibble(__global const uchar *qs, int j) {
  return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
}

inline float kiln_load_f32(__global const uchar *row, long k) {
  return ((__global const float *)row)[k];
}
inline float kiln_load_f16(__global const uchar *row, long k) {
  return kiln_load_half(row + 2 * k);
}
inline float kiln_load_bf16(__global const uchar *row, long k) {
  return as_float((uint)((__global const ushort *)row)[k] << 16);
}
// Elements 8c .. 8c+7 of an f32/f16/bf16 row.
inline float8 kiln_load8_f32(__global const uchar *row, long c) {
  return vload8(c, (__global const float *)row);
}
inline float8 kiln_load8_f16(__global const uchar *row, long c) {
  return vload_half8(c, (__global const half *)row);
}
inline float8 kiln_load8_bf16(__global const uchar *row, long c) {
  return as_float8(convert_uint8(vload8(c, (__global const ushort *)row)) << 16);
}
inline float kiln_load_q8_0(__global const uchar *row, long k) {
  __global const uchar *b = row + 34 * (k >> 5);
  return kiln_load_half(b) * (float)((__global const char *)b)[2 + (k & 31)];
}
inline float kiln_load_q4_0(__global const uchar *row, long k) {
  __global const uchar *b = row + 18 * (k >> 5);
  return kiln_load_half(b) * (float)(kiln_wd_nibble(b + 2, (int)(k & 31)) - 8);
}
inline float kiln_load_q4_1(__global const uchar *row, long k) {
  #pragma OPENCL FP_CONTRACT OFF
  __global const uchar *b = row + 20 * (k >> 5);
  return kiln_load_half(b) * (float)kiln_wd_nibble(b + 4, (int)(k & 31)) +
         kiln_load_half(b + 2);
}
inline float kiln_load_q5_0(__global const uchar *row, long k) {
  __global const uchar *b = row + 22 * (k >> 5);
  int j = (int)(k & 31);
  int q = kiln_wd_nibble(b + 6, j) | (((kiln_wd_u32(b + 2) >> j) & 1) << 4);
  return kiln_load_half(b) * (float)(q - 16);
}
inline float kiln_load_q5_1(__global const uchar *row, long k) {
  #pragma OPENCL FP_CONTRACT OFF
  __global const uchar *b = row + 24 * (k >> 5);
  int j = (int)(k & 31);
  int q = kiln_wd_nibble(b + 8, j) | (((kiln_wd_u32(b + 4) >> j) & 1) << 4);
  return kiln_load_half(b) * (float)q + kiln_load_half(b + 2);
}
inline float kiln_load_q2_k(__global const uchar *row, long k) {
  #pragma OPENCL FP_CONTRACT OFF
  __global const uchar *b = row + 84 * (k >> 8);
  int i = (int)(k & 255);
  uchar packed = b[i >> 4];
  float scale = kiln_load_half(b + 80) * (float)(packed & 15);
  float min = kiln_load_half(b + 82) * (float)(packed >> 4);
  return scale * (float)kiln_wd_two_bit(b + 16, i) - min;
}
inline float kiln_load_q3_k(__global const uchar *row, long k) {
  __global const uchar *b = row + 110 * (k >> 8);
  int i = (int)(k & 255);
  // High bit of element i: hmask byte i%32, bit i/32; clear means -4.
  int high = (b[i & 31] >> (i >> 5)) & 1;
  int q = kiln_wd_two_bit(b + 32, i) - (high ? 0 : 4);
  float scale = kiln_load_half(b + 108) * (float)kiln_wd_q3k_scale(b + 96, i >> 4);
  return scale * (float)q;
}
inline float kiln_load_q4_k(__global const uchar *row, long k) {
  #pragma OPENCL FP_CONTRACT OFF
  __global const uchar *b = row + 144 * (k >> 8);
  int i = (int)(k & 255);
  int2 sm = kiln_wd_q4k_scale_min(b + 4, i >> 5);
  float scale = kiln_load_half(b) * (float)sm.x;
  float min = kiln_load_half(b + 2) * (float)sm.y;
  return scale * (float)kiln_wd_four_bit_k(b + 16, i) - min;
}
inline float kiln_load_q5_k(__global const uchar *row, long k) {
  #pragma OPENCL FP_CONTRACT OFF
  __global const uchar *b = row + 176 * (k >> 8);
  int i = (int)(k & 255);
  int2 sm = kiln_wd_q4k_scale_min(b + 4, i >> 5);
  float scale = kiln_load_half(b) * (float)sm.x;
  float min = kiln_load_half(b + 2) * (float)sm.y;
  int q = kiln_wd_four_bit_k(b + 48, i) | (((b[16 + (i & 31)] >> (i >> 5)) & 1) << 4);
  return scale * (float)q - min;
}
inline float kiln_load_q6_k(__global const uchar *row, long k) {
  __global const uchar *b = row + 210 * (k >> 8);
  int i = (int)(k & 255);
  // Halves of 128; element 32c+l of a half (c < 4) takes its low nibble
  // from ql[64h + l + 32(c%2)] (low for c < 2), its high two bits from
  // qh[32h + l] at bit pair c.
  int h = i >> 7, c = (i & 127) >> 5, l = i & 31;
  uchar lowByte = b[64 * h + l + 32 * (c & 1)];
  int low = c < 2 ? (lowByte & 15) : (lowByte >> 4);
  int high = (b[128 + 32 * h + l] >> (2 * c)) & 3;
  float scale = kiln_load_half(b + 208) * (float)((__global const char *)b)[192 + (i >> 4)];
  return scale * (float)((low | (high << 4)) - 32);
}

// ---- integer dot products with q8 activation rows --------------------------
// kiln_qdot_<type>(w, u, q, d, extra, acc): chunk u (elements 32u .. 32u+31)
// of weight row w against the activation row in QuantizedActivations.h's
// layout: q its int8 values, d its block scales, extra its q8_0 s[] (f16
// of d * sum q per 32, for the minimums of q4_1/q5_1) or its q8_K sums
// per 16 (for the minimums of q2_K/q4_K/q5_K). Returns acc plus the
// chunk's products: an exact integer sum, then float scales as the CPU's
// kernels apply them.

// Signed weights of a 32-block against the activations' block u.
inline float kiln_qdot_q8_0(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  __global const uchar *b = w + 34 * u;
  __global const char *qs = (__global const char *)(b + 2);
  __global const char *a = q + 32 * u;
  int sum = 0;
  for (int j = 0; j < 32; ++j)
    sum += (int)qs[j] * (int)a[j];
  return fma((float)sum, kiln_load_half(b) * d[u], acc);
}
inline float kiln_qdot_q4_0(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  __global const uchar *b = w + 18 * u;
  __global const char *a = q + 32 * u;
  int sum = 0;
  for (int j = 0; j < 16; ++j) {
    uchar byte = b[2 + j];
    sum += ((int)(byte & 15) - 8) * (int)a[j] + ((int)(byte >> 4) - 8) * (int)a[j + 16];
  }
  return fma((float)sum, kiln_load_half(b) * d[u], acc);
}
inline float kiln_qdot_q5_0(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  __global const uchar *b = w + 22 * u;
  __global const char *a = q + 32 * u;
  uint high = kiln_wd_u32(b + 2);
  int sum = 0;
  for (int j = 0; j < 16; ++j) {
    uchar byte = b[6 + j];
    int lo = (int)((byte & 15) | (((high >> j) & 1) << 4)) - 16;
    int hi = (int)((byte >> 4) | (((high >> (j + 16)) & 1) << 4)) - 16;
    sum += lo * (int)a[j] + hi * (int)a[j + 16];
  }
  return fma((float)sum, kiln_load_half(b) * d[u], acc);
}
// Unsigned weights with a minimum: d_w d_a sum(q a) + m s.
inline float kiln_qdot_q4_1(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  __global const uchar *b = w + 20 * u;
  __global const char *a = q + 32 * u;
  int sum = 0;
  for (int j = 0; j < 16; ++j) {
    uchar byte = b[4 + j];
    sum += (int)(byte & 15) * (int)a[j] + (int)(byte >> 4) * (int)a[j + 16];
  }
  acc = fma((float)sum, kiln_load_half(b) * d[u], acc);
  return fma(kiln_load_half(b + 2), ((__global const float *)extra)[u], acc);
}
inline float kiln_qdot_q5_1(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  __global const uchar *b = w + 24 * u;
  __global const char *a = q + 32 * u;
  uint high = kiln_wd_u32(b + 4);
  int sum = 0;
  for (int j = 0; j < 16; ++j) {
    uchar byte = b[8 + j];
    int lo = (int)((byte & 15) | (((high >> j) & 1) << 4));
    int hi = (int)((byte >> 4) | (((high >> (j + 16)) & 1) << 4));
    sum += lo * (int)a[j] + hi * (int)a[j + 16];
  }
  acc = fma((float)sum, kiln_load_half(b) * d[u], acc);
  return fma(kiln_load_half(b + 2), ((__global const float *)extra)[u], acc);
}

// K-quants: chunk u is sub-block c = u % 8 of super-block u / 8; the
// activations' scale d[u / 8], their sums per 16 at extra[16 (u / 8) ...].
inline float kiln_qdot_q2_k(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  long sb = u >> 3;
  int c = (int)(u & 7);
  __global const uchar *b = w + 84 * sb;
  __global const char *a = q + 32 * u;
  __global const int *sums = (__global const int *)extra + 16 * sb;
  __global const uchar *qs = b + 16 + 32 * (c >> 2);
  int shift = 2 * (c & 3);
  int sum = 0, minSum = 0;
  for (int g = 0; g < 2; ++g) {
    int part = 0;
    for (int l = 16 * g; l < 16 * g + 16; ++l)
      part += (int)((qs[l] >> shift) & 3) * (int)a[l];
    uchar packed = b[2 * c + g];
    sum += (int)(packed & 15) * part;
    minSum += (int)(packed >> 4) * sums[2 * c + g];
  }
  float da = d[sb];
  acc = fma((float)minSum, -(da * kiln_load_half(b + 82)), acc);
  return fma((float)sum, da * kiln_load_half(b + 80), acc);
}
inline float kiln_qdot_q3_k(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  long sb = u >> 3;
  int c = (int)(u & 7);
  __global const uchar *b = w + 110 * sb;
  __global const char *a = q + 32 * u;
  __global const uchar *qs = b + 32 + 32 * (c >> 2);
  int shift = 2 * (c & 3);
  int sum = 0;
  for (int g = 0; g < 2; ++g) {
    int part = 0;
    for (int l = 16 * g; l < 16 * g + 16; ++l) {
      int quant = (int)((qs[l] >> shift) & 3) - (((b[l] >> c) & 1) ? 0 : 4);
      part += quant * (int)a[l];
    }
    sum += kiln_wd_q3k_scale(b + 96, 2 * c + g) * part;
  }
  return fma((float)sum, d[sb] * kiln_load_half(b + 108), acc);
}
inline float kiln_qdot_q4_k(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  long sb = u >> 3;
  int c = (int)(u & 7);
  __global const uchar *b = w + 144 * sb;
  __global const char *a = q + 32 * u;
  __global const int *sums = (__global const int *)extra + 16 * sb;
  __global const uchar *qs = b + 16 + 32 * (c >> 1);
  int shift = 4 * (c & 1);
  int part = 0;
  for (int l = 0; l < 32; ++l)
    part += (int)((qs[l] >> shift) & 15) * (int)a[l];
  int2 sm = kiln_wd_q4k_scale_min(b + 4, c);
  float da = d[sb];
  acc = fma((float)(sm.x * part), da * kiln_load_half(b), acc);
  return fma((float)(sm.y * (sums[2 * c] + sums[2 * c + 1])),
             -(da * kiln_load_half(b + 2)), acc);
}
inline float kiln_qdot_q5_k(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  long sb = u >> 3;
  int c = (int)(u & 7);
  __global const uchar *b = w + 176 * sb;
  __global const char *a = q + 32 * u;
  __global const int *sums = (__global const int *)extra + 16 * sb;
  __global const uchar *qs = b + 48 + 32 * (c >> 1);
  int shift = 4 * (c & 1);
  int part = 0;
  for (int l = 0; l < 32; ++l) {
    int quant = (int)((qs[l] >> shift) & 15) | (((b[16 + l] >> c) & 1) << 4);
    part += quant * (int)a[l];
  }
  int2 sm = kiln_wd_q4k_scale_min(b + 4, c);
  float da = d[sb];
  acc = fma((float)(sm.x * part), da * kiln_load_half(b), acc);
  return fma((float)(sm.y * (sums[2 * c] + sums[2 * c + 1])),
             -(da * kiln_load_half(b + 2)), acc);
}
inline float kiln_qdot_q6_k(__global const uchar *w, long u, __global const char *q,
                            __global const float *d, __global const uchar *extra,
                            float acc) {
  long sb = u >> 3;
  int c = (int)(u & 7);
  int h = c >> 2, k = c & 3;
  __global const uchar *b = w + 210 * sb;
  __global const char *a = q + 32 * u;
  __global const uchar *ql = b + 64 * h + 32 * (k & 1);
  __global const uchar *qh = b + 128 + 32 * h;
  __global const char *scales = (__global const char *)(b + 192);
  int lowShift = 4 * (k >> 1), highShift = 2 * k;
  int sum = 0;
  for (int g = 0; g < 2; ++g) {
    int part = 0;
    for (int l = 16 * g; l < 16 * g + 16; ++l) {
      int quant = ((int)((ql[l] >> lowShift) & 15) | ((int)((qh[l] >> highShift) & 3) << 4)) - 32;
      part += quant * (int)a[l];
    }
    sum += (int)scales[2 * c + g] * part;
  }
  return fma((float)sum, d[sb] * kiln_load_half(b + 208), acc);
}

// ---- integer dots in the CPU kernels' order ---------------------------------
// kiln_xdot_<type>(w, b, q, d, extra, lanes, offset): weight block b (32
// elements, or a 256 super-block) of row w against the activation row, into
// eight float lanes and four offset lanes as codegen/llvm/IntegerDot.cpp
// accumulates them: lane i takes the exact integer sum of elements 4i..4i+3
// of every 32-chunk of the block (times the per-16 scales), then one fma
// with the block's float scale; minimum terms go to the offset lanes. The
// column's result is kiln_xdot_result(lanes, offset).
inline float8 kiln_wd_lanes(const int *s) {
  return convert_float8(vload8(0, s));
}
inline float kiln_xdot_result(float8 l, float4 o) {
  float offset = (o.s0 + o.s2) + (o.s1 + o.s3);
  return (((l.s0 + l.s4) + (l.s2 + l.s6)) + ((l.s1 + l.s5) + (l.s3 + l.s7))) + offset;
}
#define KILN_XDOT_ARGS __global const uchar *w, long b, __global const char *q, \
    __global const float *d, __global const uchar *extra, float8 *lanes, float4 *offset
inline void kiln_xdot_q8_0(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 34 * b;
  __global const char *qs = (__global const char *)(blk + 2);
  __global const char *a = q + 32 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 32; ++e)
    s[e >> 2] += (int)qs[e] * (int)a[e];
  *lanes = fma((float8)(kiln_load_half(blk) * d[b]), kiln_wd_lanes(s), *lanes);
}
inline void kiln_xdot_q4_0(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 18 * b;
  __global const char *a = q + 32 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 32; ++e)
    s[e >> 2] += (kiln_wd_nibble(blk + 2, e) - 8) * (int)a[e];
  *lanes = fma((float8)(kiln_load_half(blk) * d[b]), kiln_wd_lanes(s), *lanes);
}
inline void kiln_xdot_q5_0(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 22 * b;
  __global const char *a = q + 32 * b;
  uint high = kiln_wd_u32(blk + 2);
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 32; ++e)
    s[e >> 2] += ((kiln_wd_nibble(blk + 6, e) | (int)(((high >> e) & 1) << 4)) - 16) * (int)a[e];
  *lanes = fma((float8)(kiln_load_half(blk) * d[b]), kiln_wd_lanes(s), *lanes);
}
inline void kiln_xdot_q4_1(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 20 * b;
  __global const char *a = q + 32 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 32; ++e)
    s[e >> 2] += kiln_wd_nibble(blk + 4, e) * (int)a[e];
  *lanes = fma((float8)(kiln_load_half(blk) * d[b]), kiln_wd_lanes(s), *lanes);
  (*offset).s0 = fma(kiln_load_half(blk + 2), ((__global const float *)extra)[b], (*offset).s0);
}
inline void kiln_xdot_q5_1(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 24 * b;
  __global const char *a = q + 32 * b;
  uint high = kiln_wd_u32(blk + 4);
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 32; ++e)
    s[e >> 2] += (kiln_wd_nibble(blk + 8, e) | (int)(((high >> e) & 1) << 4)) * (int)a[e];
  *lanes = fma((float8)(kiln_load_half(blk) * d[b]), kiln_wd_lanes(s), *lanes);
  (*offset).s0 = fma(kiln_load_half(blk + 2), ((__global const float *)extra)[b], (*offset).s0);
}
// q4_0 on rows of a multiple of eight columns: the CPU adds each block's
// whole integer sum into one float per column.
inline float kiln_xdot_q4_0_total(__global const uchar *w, long b, __global const char *q,
                                  __global const float *d, float acc) {
  __global const uchar *blk = w + 18 * b;
  __global const char *a = q + 32 * b;
  int total = 0;
  for (int e = 0; e < 32; ++e)
    total += (kiln_wd_nibble(blk + 2, e) - 8) * (int)a[e];
  return fma((float)total, kiln_load_half(blk) * d[b], acc);
}
inline void kiln_xdot_q4_k(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 144 * b;
  __global const char *a = q + 256 * b;
  __global const int *sums = (__global const int *)extra + 16 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int m[4];
  for (int c = 0; c < 8; ++c) {
    int2 sm = kiln_wd_q4k_scale_min(blk + 4, c);
    __global const uchar *qs = blk + 16 + 32 * (c >> 1);
    int shift = 4 * (c & 1);
    for (int l = 0; l < 32; ++l)
      s[l >> 2] += sm.x * ((int)((qs[l] >> shift) & 15) * (int)a[32 * c + l]);
    int term = sm.y * (sums[2 * c] + sums[2 * c + 1]);
    if (c & 1) m[c >> 1] += term; else m[c >> 1] = term;
  }
  float da = d[b];
  *lanes = fma((float8)(da * kiln_load_half(blk)), kiln_wd_lanes(s), *lanes);
  *offset = fma((float4)(-(da * kiln_load_half(blk + 2))),
                (float4)((float)m[0], (float)m[1], (float)m[2], (float)m[3]), *offset);
}
inline void kiln_xdot_q5_k(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 176 * b;
  __global const char *a = q + 256 * b;
  __global const int *sums = (__global const int *)extra + 16 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int minTotal = 0;
  for (int c = 0; c < 8; ++c) {
    int2 sm = kiln_wd_q4k_scale_min(blk + 4, c);
    __global const uchar *qs = blk + 48 + 32 * (c >> 1);
    int shift = 4 * (c & 1);
    for (int l = 0; l < 32; ++l) {
      int quant = (int)((qs[l] >> shift) & 15) | (((blk[16 + l] >> c) & 1) << 4);
      s[l >> 2] += sm.x * (quant * (int)a[32 * c + l]);
    }
    minTotal += sm.y * (sums[2 * c] + sums[2 * c + 1]);
  }
  float da = d[b];
  *lanes = fma((float8)(da * kiln_load_half(blk)), kiln_wd_lanes(s), *lanes);
  (*offset).s0 = fma(-(da * kiln_load_half(blk + 2)), (float)minTotal, (*offset).s0);
}
inline void kiln_xdot_q2_k(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 84 * b;
  __global const char *a = q + 256 * b;
  __global const int *sums = (__global const int *)extra + 16 * b;
  int s[8], mins[8];
  for (int i = 0; i < 8; ++i) {
    s[i] = 0;
    mins[i] = (int)(blk[2 * i] >> 4) * sums[2 * i] + (int)(blk[2 * i + 1] >> 4) * sums[2 * i + 1];
  }
  for (int c = 0; c < 8; ++c) {
    __global const uchar *qs = blk + 16 + 32 * (c >> 2);
    int shift = 2 * (c & 3);
    for (int l = 0; l < 32; ++l) {
      int scale = blk[2 * c + (l >> 4)] & 15;
      s[l >> 2] += scale * ((int)((qs[l] >> shift) & 3) * (int)a[32 * c + l]);
    }
  }
  float da = d[b];
  *lanes = fma((float8)(-(da * kiln_load_half(blk + 82))), kiln_wd_lanes(mins), *lanes);
  *lanes = fma((float8)(da * kiln_load_half(blk + 80)), kiln_wd_lanes(s), *lanes);
}
inline void kiln_xdot_q3_k(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 110 * b;
  __global const char *a = q + 256 * b;
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int c = 0; c < 8; ++c) {
    __global const uchar *qs = blk + 32 + 32 * (c >> 2);
    int shift = 2 * (c & 3);
    for (int l = 0; l < 32; ++l) {
      int quant = (int)((qs[l] >> shift) & 3) - (((blk[l] >> c) & 1) ? 0 : 4);
      s[l >> 2] += kiln_wd_q3k_scale(blk + 96, 2 * c + (l >> 4)) * (quant * (int)a[32 * c + l]);
    }
  }
  *lanes = fma((float8)(d[b] * kiln_load_half(blk + 108)), kiln_wd_lanes(s), *lanes);
}
inline void kiln_xdot_q6_k(KILN_XDOT_ARGS) {
  __global const uchar *blk = w + 210 * b;
  __global const char *a = q + 256 * b;
  __global const char *scales = (__global const char *)(blk + 192);
  int s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int c = 0; c < 8; ++c) {
    int h = c >> 2, k = c & 3;
    __global const uchar *ql = blk + 64 * h + 32 * (k & 1);
    __global const uchar *qh = blk + 128 + 32 * h;
    int lowShift = 4 * (k >> 1), highShift = 2 * k;
    for (int l = 0; l < 32; ++l) {
      int quant = ((int)((ql[l] >> lowShift) & 15) | ((int)((qh[l] >> highShift) & 3) << 4)) - 32;
      s[l >> 2] += (int)scales[2 * c + (l >> 4)] * (quant * (int)a[32 * c + l]);
    }
  }
  *lanes = fma((float8)(d[b] * kiln_load_half(blk + 208)), kiln_wd_lanes(s), *lanes);
}
#undef KILN_XDOT_ARGS
)CL";
}

} // namespace kiln::codegen::opencl
