#include "SyntheticModel.h"

#include "gguf/GgufFile.h"
#include "gguf/GgufWriter.h"
#include "quant/Quantize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

namespace {

constexpr LlamaShape kPresets[] = {
    // name, n_embd, layers, heads, kv heads, n_ff, vocab, ctx, eps, theta
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 1e-5f, 10000.0f},
    {"llama-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 1e-5f, 10000.0f},
    // Small enough for tests; takes the vocabulary file's size.
    {"tiny", 64, 2, 4, 2, 128, 0, 256, 1e-5f, 10000.0f},
    // GQA (6 heads over 2 KV heads of 16) with a tied output, for tests.
    {"tiny-gqa-tied", 96, 2, 6, 2, 192, 0, 256, 1e-5f, 10000.0f, true},
};

// llama.cpp's llama_ftype numbers for general.file_type.
uint32_t fileTypeOf(GgmlType type) {
  switch (type) {
  case GgmlType::F16: return 1;
  case GgmlType::Q4_0: return 2;
  case GgmlType::Q8_0: return 7;
  default: return 0; // all f32
  }
}

// splitmix64: seeds independent streams from (seed, tensor, chunk).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// xoshiro256** with normals by Marsaglia's polar method (no trigonometry:
// one log and one square root per pair, which keeps synth I/O bound).
class NormalGenerator {
public:
  explicit NormalGenerator(uint64_t seed) {
    for (uint64_t &word : state_)
      word = seed = mix(seed);
  }
  void fill(float *out, size_t count, float stddev) {
    for (size_t i = 0; i < count; i += 2) {
      float u, v, s;
      do { // a uniform point in the unit disc, not the origin
        u = uniformSigned();
        v = uniformSigned();
        s = u * u + v * v;
      } while (s >= 1.0f || s == 0.0f);
      float factor = stddev * std::sqrt(-2.0f * std::log(s) / s);
      out[i] = u * factor;
      if (i + 1 < count)
        out[i + 1] = v * factor;
    }
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  // Uniform in [-1, 1) with 24 random bits.
  float uniformSigned() {
    return static_cast<float>(next() >> 40) * 0x1p-23f - 1.0f;
  }
  uint64_t next() {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  uint64_t state_[4];
};

// Elements per independently seeded chunk: fixed, so the weights do not
// depend on the thread count. A multiple of every block size.
constexpr size_t kChunkElements = 1 << 16;

GgufWriter::Filler randomFiller(GgmlType type, uint64_t elements,
                                uint64_t seed, float stddev,
                                unsigned threads) {
  return [=](std::span<uint8_t> out) -> Status {
    const GgmlTypeInfo &info = ggmlTypeInfo(type);
    size_t chunks = (elements + kChunkElements - 1) / kChunkElements;
    std::atomic<size_t> nextChunk{0};
    std::mutex errorMutex;
    Status firstError;
    auto worker = [&] {
      std::vector<float> values(kChunkElements);
      for (size_t c; (c = nextChunk++) < chunks;) {
        size_t begin = c * kChunkElements;
        size_t count = std::min<size_t>(kChunkElements, elements - begin);
        NormalGenerator(mix(seed ^ mix(c))).fill(values.data(), count, stddev);
        size_t byteBegin = begin / info.blockSize * info.bytesPerBlock;
        size_t byteCount = count / info.blockSize * info.bytesPerBlock;
        Status done = quantize(type, {values.data(), count},
                               out.subspan(byteBegin, byteCount));
        if (!done) {
          std::lock_guard<std::mutex> lock(errorMutex);
          firstError = std::move(done);
        }
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads && t < chunks; ++t)
      pool.emplace_back(worker);
    worker();
    for (std::thread &thread : pool)
      thread.join();
    return firstError;
  };
}

GgufWriter::Filler onesFiller(uint64_t elements) {
  return [elements](std::span<uint8_t> out) {
    std::vector<float> ones(elements, 1.0f);
    return quantize(GgmlType::F32, ones, out);
  };
}

} // namespace

std::span<const LlamaShape> llamaPresets() { return kPresets; }

const LlamaShape *findLlamaPreset(std::string_view name) {
  for (const LlamaShape &shape : kPresets)
    if (shape.name == name)
      return &shape;
  return nullptr;
}

bool isSynthType(GgmlType type) {
  return type == GgmlType::F32 || type == GgmlType::F16 ||
         type == GgmlType::Q8_0 || type == GgmlType::Q4_0;
}

Status writeSyntheticLlama(const SynthOptions &options, const GgufFile &vocab,
                           const std::string &outPath) {
  const LlamaShape &shape = *options.shape;
  if (!isSynthType(options.type))
    return makeError("synth: type ", std::string(ggmlTypeInfo(options.type).name),
                     " is not one of f32, f16, q8_0, q4_0");
  auto tokens = vocab.metadata().getArray("tokenizer.ggml.tokens");
  if (!tokens)
    return makeError(vocab.source(),
                     ": no vocabulary (tokenizer.ggml.tokens) in this file");
  uint64_t vocabSize = (*tokens)->size();
  if (shape.vocabSize != 0 && vocabSize != shape.vocabSize)
    return makeError(vocab.source(), ": has ", std::to_string(vocabSize),
                     " tokens, preset '", std::string(shape.name),
                     "' needs a ", std::to_string(shape.vocabSize),
                     "-token vocabulary");
  if (shape.embeddingLength % shape.headCount != 0 ||
      shape.headCount % shape.headCountKv != 0)
    return makeError("synth: preset '", std::string(shape.name),
                     "' has inconsistent head counts");
  unsigned threads = options.threads
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());

  GgufWriter writer;
  GgufMetadata &meta = writer.metadata();
  meta.set("general.architecture", "llama");
  meta.set("general.name", "kiln synth " + std::string(shape.name));
  meta.set("general.file_type", fileTypeOf(options.type));
  if (ggmlTypeInfo(options.type).blockSize > 1)
    meta.set("general.quantization_version", uint32_t{2});
  uint32_t headDim = shape.embeddingLength / shape.headCount;
  meta.set("llama.vocab_size", static_cast<uint32_t>(vocabSize));
  meta.set("llama.context_length", shape.contextLength);
  meta.set("llama.embedding_length", shape.embeddingLength);
  meta.set("llama.block_count", shape.blockCount);
  meta.set("llama.feed_forward_length", shape.feedForwardLength);
  meta.set("llama.rope.dimension_count", headDim);
  meta.set("llama.rope.freq_base", shape.ropeFreqBase);
  meta.set("llama.attention.head_count", shape.headCount);
  meta.set("llama.attention.head_count_kv", shape.headCountKv);
  meta.set("llama.attention.layer_norm_rms_epsilon", shape.rmsNormEpsilon);
  for (const auto &[key, value] : vocab.metadata().entries())
    if (key.rfind("tokenizer.", 0) == 0)
      meta.set(key, value);

  int64_t embd = shape.embeddingLength;
  int64_t kvWidth = int64_t{headDim} * shape.headCountKv;
  int64_t ff = shape.feedForwardLength;
  int64_t vocabRows = static_cast<int64_t>(vocabSize);
  uint64_t tensorSeed = 0;
  auto addMatrix = [&](std::string name, int64_t cols, int64_t rows) {
    uint64_t seed = mix(options.seed ^ mix(++tensorSeed));
    return writer.addTensor(std::move(name), options.type, {cols, rows},
                            randomFiller(options.type, uint64_t(cols * rows),
                                         seed, options.stddev, threads));
  };
  auto addNorm = [&](std::string name) {
    return writer.addTensor(std::move(name), GgmlType::F32, {embd},
                            onesFiller(uint64_t(embd)));
  };

  KILN_TRY(addMatrix("token_embd.weight", embd, vocabRows));
  for (uint32_t layer = 0; layer < shape.blockCount; ++layer) {
    std::string prefix = "blk." + std::to_string(layer) + ".";
    KILN_TRY(addNorm(prefix + "attn_norm.weight"));
    KILN_TRY(addMatrix(prefix + "attn_q.weight", embd, embd));
    KILN_TRY(addMatrix(prefix + "attn_k.weight", embd, kvWidth));
    KILN_TRY(addMatrix(prefix + "attn_v.weight", embd, kvWidth));
    KILN_TRY(addMatrix(prefix + "attn_output.weight", embd, embd));
    KILN_TRY(addNorm(prefix + "ffn_norm.weight"));
    KILN_TRY(addMatrix(prefix + "ffn_gate.weight", embd, ff));
    KILN_TRY(addMatrix(prefix + "ffn_up.weight", embd, ff));
    KILN_TRY(addMatrix(prefix + "ffn_down.weight", ff, embd));
  }
  KILN_TRY(addNorm("output_norm.weight"));
  if (!shape.tiedOutput)
    KILN_TRY(addMatrix("output.weight", embd, vocabRows));

  return writer.write(outPath, options.progress);
}

} // namespace kiln
