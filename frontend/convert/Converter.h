// `kiln convert`: a Hugging Face model folder (config.json, weights,
// tokenizer) to one GGUF file, as llama.cpp's convert_hf_to_gguf.py writes
// it: same metadata keys in the same order, same tensor names, order,
// layouts and types, same bytes.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::convert {

class Checkpoint;

struct ConvertOptions {
  std::string modelDir;
  std::string output;
  std::string outType = "f16";    // f32, f16, bf16, q8_0
  std::string archOverride;       // a Hugging Face class name, e.g. "MistralForCausalLM"
  std::string name;               // general.name (default: the folder's name)
  std::string vocabPre;           // tokenizer.ggml.pre for BPE, if not recognized
  // Called after each tensor: tensors and bytes written so far, and in all.
  std::function<void(size_t tensorsDone, size_t tensors, uint64_t bytesDone,
                     uint64_t bytes)>
      progress;
};

struct ConvertSummary {
  std::string architecture; // the Hugging Face class converted
  size_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t inputBytes = 0;  // checkpoint tensor bytes
  uint64_t outputBytes = 0; // tensor bytes written
  // Set when kiln's loader refuses the file written (a llama.cpp feature
  // kiln does not run yet, such as yarn rope scaling): the loader's reason.
  std::string notRunnable;
};

// Writes options.output through a temporary file; on any error nothing is
// left at options.output. An output that is one of inputFiles() is refused.
Result<ConvertSummary> convertModel(const ConvertOptions &options);

// The files of modelDir that -o must not replace: its config and tokenizer
// files, every weight file of a known format (read or not), and the shards
// and index the checkpoint was read from.
std::vector<std::string> inputFiles(const std::string &modelDir,
                                    const Checkpoint &checkpoint);

// llama.cpp's size label for a parameter count, e.g. 3922176 -> "3.9M".
std::string sizeLabel(uint64_t parameters);

} // namespace kiln::convert
