// The model run over a calibration text, for the precision chooser. It
// measures two things:
// - activation statistics: for every weight, the error weights of
//   QuantError.h (the mean of x_k^2 over the tokens for each input column
//   k of a matmul; for an embedding table, how often each row is read);
// - the KL divergence of the logits when one tensor is replaced by other
//   values (its requantized self), against the model's own logits: how
//   much an error in that tensor matters downstream, which weighted
//   squared errors of different tensors cannot say (their outputs feed
//   different things).
// It works on an f32 copy of the model in memory (matrices dequantized),
// so a tensor can be swapped in place between runs.
#pragma once

#include "codegen/Compile.h"
#include "gguf/GgufFile.h"
#include "quant/QuantError.h"
#include "runtime/Executor.h"
#include "support/Result.h"

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln::precision {

struct CalibrationOptions {
  int64_t chunk = 512;  // tokens per prefill (at most the model's context)
  unsigned threads = 0; // 0: all cores
  bool useKernelCache = true;
  std::string scratchDir; // where a converted copy is written for a moment
};

class CalibrationRun {
public:
  static Result<std::unique_ptr<CalibrationRun>>
  create(const GgufFile &model, const std::string &text, const CalibrationOptions &options);
  ~CalibrationRun();

  // By GGUF tensor name; weights never read by a matmul or embedding are
  // absent.
  const std::map<std::string, ErrorWeights> &errorWeights() const { return weights_; }
  size_t tokens() const { return tokens_; }

  // Mean KL(model || model with tensor `name` holding `values`) over every
  // calibration position; the tensor is restored afterwards.
  Result<double> klWithTensor(const std::string &name, std::span<const float> values);

private:
  CalibrationRun() = default;
  Status run(std::vector<float> *logits);

  std::shared_ptr<std::vector<uint8_t>> bytes_; // the f32 copy, writable
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<runtime::ThreadPool> pool_;
  codegen::Program program_;
  std::unique_ptr<runtime::Executor> executor_;
  std::vector<std::vector<int32_t>> chunks_;
  std::vector<float> baseLogits_; // every position of every chunk
  std::map<std::string, ErrorWeights> weights_;
  size_t tokens_ = 0;
};

} // namespace kiln::precision
