// Byte layouts of ggml's quantized blocks, as stored in GGUF files. Sizes are
// checked against the type table at compile time. Scales stored as IEEE half
// are kept as raw uint16_t bits.
#pragma once

#include <cstdint>

namespace kiln::blocks {

inline constexpr int kQK = 32;   // elements per block of the simple formats
inline constexpr int kQKK = 256; // elements per K-quant super-block

struct Q4_0 {
  uint16_t d;          // scale
  uint8_t qs[kQK / 2]; // element j in the low nibble of qs[j], j+16 high
};
struct Q4_1 {
  uint16_t d, m; // scale and minimum
  uint8_t qs[kQK / 2];
};
struct Q5_0 {
  uint16_t d;
  uint8_t qh[4];       // fifth bit of element j is bit j of this 32-bit word
  uint8_t qs[kQK / 2];
};
struct Q5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct Q8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct IQ4_NL {
  uint16_t d;          // scale
  uint8_t qs[kQK / 2]; // indices into a fixed table of 16 levels, as Q4_0
};
struct Q2_K {
  uint8_t scales[kQKK / 16]; // per 16 elements: low nibble scale, high min
  uint8_t qs[kQKK / 4];      // 2-bit quants
  uint16_t d, dmin;
};
struct Q3_K {
  uint8_t hmask[kQKK / 8]; // third bit of each quant
  uint8_t qs[kQKK / 4];    // low 2 bits
  uint8_t scales[12];      // sixteen 6-bit scales
  uint16_t d;
};
struct Q4_K {
  uint16_t d, dmin;
  uint8_t scales[12]; // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[kQKK / 2];
};
struct Q5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
struct Q6_K {
  uint8_t ql[kQKK / 2]; // low 4 bits
  uint8_t qh[kQKK / 4]; // high 2 bits
  int8_t scales[kQKK / 16];
  uint16_t d;
};

static_assert(sizeof(Q4_0) == 18 && sizeof(Q4_1) == 20);
static_assert(sizeof(Q5_0) == 22 && sizeof(Q5_1) == 24);
static_assert(sizeof(Q8_0) == 34 && sizeof(IQ4_NL) == 18);
static_assert(sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110);
static_assert(sizeof(Q4_K) == 144 && sizeof(Q5_K) == 176);
static_assert(sizeof(Q6_K) == 210);

} // namespace kiln::blocks
