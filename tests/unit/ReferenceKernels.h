// A plain C++ reference of every kernel kind (codegen/KernelDesc.h): what
// each kernel computes, written as straightforward loops in f32/double,
// with the frontend's dequantizer (quant/Dequantize.h) for weight blocks
// and its f16/bf16 conversions (support/Half.h). The conformance test
// (KernelConformanceTest.cpp) runs every kernel description on every built
// target and compares its outputs with these.
//
// The reference fixes the arithmetic that defines a kernel's result (what
// is rounded to f16, how activations are quantized to q8 blocks, the
// causal mask, which rows and columns are read); the order of float
// additions and the accuracy of exp/tanh are left free, and the test's
// tolerances say how far that freedom may move a result.
#pragma once

#include "codegen/KernelDesc.h"
#include "quant/GgmlType.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::test {

// What one kernel argument holds.
enum class ArgData {
  F32Rows,     // rows x cols floats (activations)
  QuantRows,   // rows quantized rows (QuantizedActivations.h layout)
  I32,         // rows int32 (token ids, positions)
  WeightRows,  // a weight matrix: `rows` rows of `cols` elements in `format`
  F32Vector,   // one row of floats (norm weight, bias)
  KvCache,     // contextLength x cols elements, f16 or f32
};

// Where the kernel reads or writes it.
enum class ArgRole { Input, Output, InOut };

struct ArgInfo {
  std::string name; // "x", "weight0", "kcache", ...
  ArgData data = ArgData::F32Rows;
  ArgRole role = ArgRole::Input;
  GgmlType format = GgmlType::F32; // WeightRows, QuantRows (q8 type)
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t bytes = 0;
};

// Bytes of `count` elements stored as `type` (a whole number of blocks).
uint64_t storedBytes(GgmlType type, int64_t count);

// The arguments of a call of `d` with `rows` tokens, in Step::args order,
// with the sizes PlanBuilder gives their buffers. `vocab`: the rows of an
// embedding table.
std::vector<ArgInfo> kernelArgs(const codegen::KernelDesc &d, int64_t rows,
                                int64_t vocab = 64);

// Runs the reference of `d` on host buffers (args[i] is kernelArgs(...)[i]):
// reads the inputs, writes the outputs. Aborts the test (ADD_FAILURE) on
// a description it cannot compute.
void runReference(const codegen::KernelDesc &d, const std::vector<std::span<uint8_t>> &args,
                  int64_t rows, int64_t position);

// --- The pieces, for the test's inputs and comparisons ----------------------

// `cols` elements of one weight row stored as `type`, as floats.
std::vector<float> dequantizeRow(GgmlType type, const uint8_t *row, int64_t cols);

// One row quantized to q8 blocks for integer dot products (`format`: Q8_0
// or Q8_K), in the layout of codegen/QuantizedActivations.h. As llama.cpp's
// CPU path quantizes activations: q8_0: d = amax / 127 stored f16-rounded,
// q = round-half-even(x * (127 / amax)), s = f16(d_unrounded * sum q);
// q8_K: the first value of largest magnitude, m, maps to -127:
// q = min(127, round-half-even(x * (-127 / m))), d = 1 / (-127 / m), and
// the integer sums of q per 16.
void quantizeActivationRow(GgmlType format, const float *x, int64_t cols, uint8_t *row);

// The float value of element i of a quantized activation row.
float quantizedRowValue(GgmlType format, const uint8_t *row, int64_t cols, int64_t i);

// One row as the dot products read it, in f32: rounded to f16 or bf16, or
// quantized to q8 blocks (as quantizeActivationRow) and back.
void roundActivationRow(GgmlType format, const float *x, int64_t cols, float *out);

// ggml's activations, exactly: SiLU x / (1 + e^-x); GELU (tanh form) of x
// rounded to f16, rounded to f16, 0 at or below -10 and x at or above 10.
float siluReference(float x);
float geluReference(float x);

} // namespace kiln::test
