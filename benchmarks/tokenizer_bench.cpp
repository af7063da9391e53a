// Tokenization throughput (MB/s of input text) of the SPM, byte-level BPE
// and WordPiece tokenizers on English prose (Tiny Shakespeare's val split)
// and on 1 MB of one repeated character, the input that exposes quadratic
// steps (one huge word, one long run of merges). Reads ../shared/models
// (override with KILN_SHARED_MODELS_DIR).
#include "tokenizer/Tokenizer.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace {

std::string sharedPath(const std::string &relative) {
  const char *env = std::getenv("KILN_SHARED_MODELS_DIR");
  return std::string(env ? env : KILN_SHARED_MODELS_DIR) + "/" + relative;
}

const kiln::Tokenizer *tokenizerFor(const std::string &vocab) {
  static std::map<std::string, kiln::Tokenizer> cache;
  auto it = cache.find(vocab);
  if (it == cache.end()) {
    auto tokenizer =
        kiln::Tokenizer::open(sharedPath("vocab/ggml-vocab-" + vocab + ".gguf"));
    if (!tokenizer)
      return nullptr;
    it = cache.emplace(vocab, std::move(*tokenizer)).first;
  }
  return &it->second;
}

std::string inputText(const std::string &input) {
  if (input == "prose") {
    std::ifstream in(sharedPath("tinyshakes-llama/val.txt"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  const std::string unit = input == "1MB-a" ? "a" : " ";
  std::string text;
  text.reserve(1 << 20);
  while (text.size() < (1 << 20))
    text += unit;
  return text;
}

void BM_Encode(benchmark::State &state, std::string vocab, std::string input) {
  const kiln::Tokenizer *tokenizer = tokenizerFor(vocab);
  const std::string text = inputText(input);
  if (!tokenizer || text.empty()) {
    state.SkipWithError("missing ../shared/models fixture");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer->encode(text, {.addSpecial = false});
    if (!ids) {
      state.SkipWithError(ids.error().message.c_str());
      return;
    }
    tokens = ids->size();
    benchmark::DoNotOptimize(ids->data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_Decode(benchmark::State &state, std::string vocab) {
  const kiln::Tokenizer *tokenizer = tokenizerFor(vocab);
  const std::string text = inputText("prose");
  if (!tokenizer || text.empty()) {
    state.SkipWithError("missing ../shared/models fixture");
    return;
  }
  auto ids = tokenizer->encode(text, {.addSpecial = false});
  for (auto _ : state) {
    auto back = tokenizer->decode(*ids);
    benchmark::DoNotOptimize(back->data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}

// SPM: llama-spm; BPE: gpt-2 (one regex) and deepseek-coder (five);
// WordPiece: bert-bge.
BENCHMARK_CAPTURE(BM_Encode, spm/prose, "llama-spm", "prose");
BENCHMARK_CAPTURE(BM_Encode, spm/1MB-a, "llama-spm", "1MB-a");
BENCHMARK_CAPTURE(BM_Encode, spm/1MB-space, "llama-spm", "1MB-space");
BENCHMARK_CAPTURE(BM_Encode, bpe-gpt2/prose, "gpt-2", "prose");
BENCHMARK_CAPTURE(BM_Encode, bpe-gpt2/1MB-a, "gpt-2", "1MB-a");
BENCHMARK_CAPTURE(BM_Encode, bpe-gpt2/1MB-space, "gpt-2", "1MB-space");
BENCHMARK_CAPTURE(BM_Encode, bpe-deepseek-coder/prose, "deepseek-coder",
                  "prose");
BENCHMARK_CAPTURE(BM_Encode, bpe-deepseek-coder/1MB-a, "deepseek-coder",
                  "1MB-a");
BENCHMARK_CAPTURE(BM_Encode, wpm/prose, "bert-bge", "prose");
BENCHMARK_CAPTURE(BM_Encode, wpm/1MB-a, "bert-bge", "1MB-a");
BENCHMARK_CAPTURE(BM_Decode, spm/prose, "llama-spm");
BENCHMARK_CAPTURE(BM_Decode, bpe-gpt2/prose, "gpt-2");

} // namespace

BENCHMARK_MAIN();
