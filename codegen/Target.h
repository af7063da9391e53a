// A code generation target: what the compiler must ask before it chooses
// weight types, runs passes or emits kernels for one kind of device. Each
// target lives in its own folder (codegen/cpu/, later opencl/ and cuda/)
// and is picked by name from the registry (codegen/TargetRegistry.h). The
// pass pipeline and the precision chooser ask the target; they hold no
// limit of any one target themselves.
#pragma once

#include "codegen/Program.h"
#include "quant/GgmlType.h"
#include "runtime/WeightLayout.h"
#include "support/Result.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kiln::codegen {

struct CompileOptions;

// How a matmul reads its input: quantized to q8 blocks for integer dot
// products (`quantized`: Q8_0 or Q8_K), else rounded as the dot products
// see it and multiplied in f32 (`rounding`: F16, BF16, Q8_0, Q8_K), else
// the f32 row as it is.
struct MatmulInputForm {
  std::optional<GgmlType> quantized;
  std::optional<GgmlType> rounding;
  // Whether the kernels may sum in an order of their own (LowerOptions).
  Numerics numerics = Numerics::Exact;
};

class Target {
public:
  virtual ~Target() = default;

  // The name --target takes ("cpu").
  virtual std::string_view name() const = 0;

  // The weight types its matmul and embedding kernels decode, best
  // first: the candidates the precision chooser may give a weight matrix.
  // f32 is not listed; a tensor stored in f32 may always stay as it is.
  virtual std::span<const GgmlType> decodableWeightTypes() const = 0;

  // Whether its flash-attention kernel handles heads of this size; when
  // not, the pipeline leaves attention unfused.
  virtual bool supportsFlashAttention(int64_t headDim) const = 0;

  // Whether its fused matmul kernels (norm, rope, SwiGLU, residual
  // prologues and epilogues) exist for matmuls lowered with these
  // options; when not, the pipeline runs the fusion passes off.
  virtual bool supportsFusedMatmuls(const LowerOptions &lower) const = 0;

  // The form the matmuls on `weights` want their input in, under these
  // lowering options; the plan builder makes that conversion once per
  // input. The default is llama.cpp's CPU forms (q8 blocks for integer
  // dots, else its vec_dot_type rounding), which both built targets use.
  virtual MatmulInputForm matmulInput(GgmlType weights, const LowerOptions &lower) const;
  // The layout a matmul's weight of `rows` x `cols` in `weights` is loaded
  // in when its input comes in `input` (runtime/WeightLayout.h): the
  // target's kernels for that matmul read it. The default is the file's.
  virtual runtime::WeightLayout matmulWeightLayout(GgmlType weights, int64_t rows,
                                                   int64_t cols,
                                                   const MatmulInputForm &input) const {
    (void)weights, (void)rows, (void)cols, (void)input;
    return runtime::WeightLayout::Gguf;
  }

  // Whether this machine can run its kernels (a device and its driver):
  // asked before a command that runs the model does any work. Generating
  // code (--emit, artifacts) needs none.
  virtual Status checkRunnable() const { return Status::success(); }

  // Generates and loads the kernels of a lowered model.
  virtual Result<Program> compile(ModelSpec spec, LoweredModel lowered,
                                  const CompileOptions &options) const = 0;
};

} // namespace kiln::codegen
