#include "ModelSpec.h"

#include "Hyperparameters.h"
#include "gguf/GgufFile.h"

namespace kiln {

const char *modelFamilyName(ModelFamily family) {
  switch (family) {
  case ModelFamily::Llama: return "llama";
  case ModelFamily::Gpt2: return "gpt2";
  }
  return "?";
}

namespace {

// Well beyond any real vocabulary; keeps the embedding table's row count
// far from overflow.
constexpr uint64_t kMaxVocab = 1u << 22;

std::string dimsString(const std::vector<int64_t> &dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

// Reads keys and tensors, remembering the first error so that the spec
// builder below reads top to bottom like the list of what a model needs.
class SpecReader {
public:
  SpecReader(const GgufFile &file, std::string prefix)
      : file_(file), prefix_(std::move(prefix)) {}

  // A count the file must give (hparamRequired) or else `fallback`,
  // checked by the shared hyperparameter rules.
  uint32_t count(Hparam h, uint32_t fallback = 0) {
    std::string full = prefix_ + std::string(hparamKey(h));
    if (!file_.metadata().contains(full) && !hparamRequired(h))
      return fallback;
    auto value = file_.metadata().getUInt(full);
    if (!value) {
      record(std::move(value).takeError());
      return 0;
    }
    if (auto problem = hparamProblem(h, static_cast<double>(*value))) {
      record(makeError(file_.source(), ": metadata key '", full, "' ", *problem));
      return 0;
    }
    return static_cast<uint32_t>(*value);
  }

  float real(Hparam h, float fallback) {
    std::string full = prefix_ + std::string(hparamKey(h));
    if (!file_.metadata().contains(full))
      return fallback;
    auto value = file_.metadata().getFloat(full);
    if (!value) {
      record(std::move(value).takeError());
      return 0.0f;
    }
    if (auto problem = hparamProblem(h, *value)) {
      record(makeError(file_.source(), ": metadata key '", full, "' ", *problem));
      return 0.0f;
    }
    return static_cast<float>(*value);
  }

  std::string text(const std::string &fullKey, std::string fallback) {
    if (!file_.metadata().contains(fullKey))
      return fallback;
    auto value = file_.metadata().getString(fullKey);
    if (!value) {
      record(std::move(value).takeError());
      return fallback;
    }
    return std::string(*value);
  }

  bool has(const std::string &tensor) const {
    return file_.findTensor(tensor) != nullptr;
  }

  WeightRef tensor(const std::string &name, std::vector<int64_t> dims) {
    const GgufTensorInfo *info = file_.findTensor(name);
    if (!info) {
      record(makeError(file_.source(), ": tensor '", name,
                       "' is missing (expected shape ", dimsString(dims),
                       ")"));
      return {};
    }
    // Trailing dims of 1 are equivalent in ggml.
    std::vector<int64_t> actual = info->dims;
    while (actual.size() > dims.size() && actual.back() == 1)
      actual.pop_back();
    if (actual != dims) {
      record(makeError(file_.source(), ": tensor '", name, "' has shape ",
                       dimsString(info->dims), ", expected ",
                       dimsString(dims)));
      return {};
    }
    return WeightRef{name, info->type, dims};
  }

  std::optional<WeightRef> optionalTensor(const std::string &name,
                                          std::vector<int64_t> dims) {
    if (!has(name))
      return std::nullopt;
    return tensor(name, std::move(dims));
  }

  void record(Error error) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(error);
    }
  }
  void check(bool condition, const std::string &problem) {
    if (!condition)
      record(makeError(file_.source(), ": ", problem));
  }
  bool failed() const { return failed_; }
  Error takeError() { return std::move(error_); }

private:
  const GgufFile &file_;
  std::string prefix_;
  bool failed_ = false;
  Error error_;
};

void readLlamaLayers(SpecReader &r, ModelSpec &spec) {
  int64_t embd = spec.embeddingLength, q = spec.qWidth(), kv = spec.kvWidth();
  int64_t ff = spec.feedForwardLength;
  for (uint32_t i = 0; i < spec.blockCount && !r.failed(); ++i) {
    std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights layer;
    layer.attnNorm = r.tensor(p + "attn_norm.weight", {embd});
    layer.wq = r.tensor(p + "attn_q.weight", {embd, q});
    layer.wk = r.tensor(p + "attn_k.weight", {embd, kv});
    layer.wv = r.tensor(p + "attn_v.weight", {embd, kv});
    layer.bq = r.optionalTensor(p + "attn_q.bias", {q});
    layer.bk = r.optionalTensor(p + "attn_k.bias", {kv});
    layer.bv = r.optionalTensor(p + "attn_v.bias", {kv});
    layer.wo = r.tensor(p + "attn_output.weight", {q, embd});
    layer.bo = r.optionalTensor(p + "attn_output.bias", {embd});
    layer.ffnNorm = r.tensor(p + "ffn_norm.weight", {embd});
    layer.ffnGate = r.tensor(p + "ffn_gate.weight", {embd, ff});
    layer.ffnUp = r.tensor(p + "ffn_up.weight", {embd, ff});
    layer.ffnDown = r.tensor(p + "ffn_down.weight", {ff, embd});
    spec.layers.push_back(std::move(layer));
  }
}

void readGpt2Layers(SpecReader &r, ModelSpec &spec) {
  int64_t embd = spec.embeddingLength, ff = spec.feedForwardLength;
  for (uint32_t i = 0; i < spec.blockCount && !r.failed(); ++i) {
    std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights layer;
    layer.attnNorm = r.tensor(p + "attn_norm.weight", {embd});
    layer.attnNormBias = r.tensor(p + "attn_norm.bias", {embd});
    layer.wqkv = r.tensor(p + "attn_qkv.weight", {embd, 3 * embd});
    layer.bqkv = r.tensor(p + "attn_qkv.bias", {3 * embd});
    layer.wo = r.tensor(p + "attn_output.weight", {embd, embd});
    layer.bo = r.tensor(p + "attn_output.bias", {embd});
    layer.ffnNorm = r.tensor(p + "ffn_norm.weight", {embd});
    layer.ffnNormBias = r.tensor(p + "ffn_norm.bias", {embd});
    layer.ffnUp = r.tensor(p + "ffn_up.weight", {embd, ff});
    layer.ffnUpBias = r.tensor(p + "ffn_up.bias", {ff});
    layer.ffnDown = r.tensor(p + "ffn_down.weight", {ff, embd});
    layer.ffnDownBias = r.tensor(p + "ffn_down.bias", {embd});
    spec.layers.push_back(std::move(layer));
  }
}

// Token ids index token_embd's rows and name output's rows of logits: a
// vocabulary with fewer tokens than rows lets a sampled id name no token,
// one with more lets the tokenizer produce ids past the table. A file
// without a vocabulary (tokenizer.ggml.tokens) has nothing to disagree.
Status checkVocabularyRows(const GgufFile &file, uint32_t embeddingRows) {
  const char *kTokens = "tokenizer.ggml.tokens";
  if (!file.metadata().contains(kTokens))
    return {};
  auto tokens = file.metadata().getArray(kTokens);
  if (!tokens)
    return std::move(tokens).takeError();
  uint64_t vocab = (*tokens)->size();
  auto check = [&](const char *name, uint64_t rows) -> Status {
    if (rows == vocab)
      return {};
    return makeError(file.source(), ": tensor '", name, "' has ",
                     std::to_string(rows), " rows, but the vocabulary (", kTokens,
                     ") has ", std::to_string(vocab), " tokens; they must be equal");
  };
  KILN_TRY(check("token_embd.weight", embeddingRows));
  if (const GgufTensorInfo *output = file.findTensor("output.weight");
      output && output->dims.size() == 2)
    KILN_TRY(check("output.weight", uint64_t(output->dims[1])));
  return {};
}

} // namespace

Result<ModelSpec> ModelSpec::fromGguf(const GgufFile &file) {
  ModelSpec spec;
  auto arch = file.metadata().getString("general.architecture");
  if (!arch)
    return std::move(arch).takeError();
  spec.architecture = std::string(*arch);
  if (spec.architecture == "llama" || spec.architecture == "qwen2")
    spec.family = ModelFamily::Llama;
  else if (spec.architecture == "gpt2")
    spec.family = ModelFamily::Gpt2;
  else
    return makeError(file.source(), ": general.architecture '",
                     spec.architecture,
                     "' is not supported (supported: llama, qwen2, gpt2)");

  SpecReader r(file, spec.architecture + ".");
  spec.name = r.text("general.name", spec.architecture);
  spec.contextLength = r.count(Hparam::ContextLength);
  spec.embeddingLength = r.count(Hparam::EmbeddingLength);
  spec.blockCount = r.count(Hparam::BlockCount);
  spec.feedForwardLength = r.count(Hparam::FeedForwardLength);
  spec.headCount = r.count(Hparam::HeadCount);
  if (r.failed())
    return r.takeError();
  spec.headCountKv = r.count(Hparam::HeadCountKv, spec.headCount);
  r.check(spec.embeddingLength % spec.headCount == 0 ||
              file.metadata().contains(spec.architecture +
                                       ".attention.key_length"),
          "embedding_length is not a multiple of attention.head_count");
  spec.headDim = r.count(Hparam::KeyLength, spec.embeddingLength / spec.headCount);
  if (r.failed())
    return r.takeError();
  uint32_t valueLength = r.count(Hparam::ValueLength, spec.headDim);
  r.check(valueLength == spec.headDim,
          "attention.value_length differs from key_length (not supported)");
  r.check(spec.headCount % spec.headCountKv == 0,
          "attention.head_count " + std::to_string(spec.headCount) +
              " is not a multiple of head_count_kv " +
              std::to_string(spec.headCountKv));

  if (spec.family == ModelFamily::Llama) {
    spec.normEpsilon = r.real(Hparam::RmsNormEpsilon, 1e-5f);
    spec.ropeMode =
        spec.architecture == "qwen2" ? RopeMode::Neox : RopeMode::Normal;
    spec.ropeDims = r.count(Hparam::RopeDimensionCount, spec.headDim);
    r.check(spec.ropeDims <= spec.headDim && spec.ropeDims % 2 == 0,
            "rope.dimension_count must be even and at most the head size");
    spec.ropeFreqBase = r.real(Hparam::RopeFreqBase, 10000.0f);
    std::string scaling =
        r.text(spec.architecture + ".rope.scaling.type", "none");
    if (scaling == "linear") {
      float factor = r.real(Hparam::RopeScalingFactor, 1.0f);
      spec.ropeFreqScale = factor > 0 ? 1.0f / factor : 1.0f;
    } else {
      r.check(scaling == "none",
              "rope.scaling.type '" + scaling + "' is not supported");
    }
  } else {
    spec.normEpsilon = r.real(Hparam::LayerNormEpsilon, 1e-5f);
  }
  if (r.failed())
    return r.takeError();

  // The vocabulary size is the embedding's row count.
  const GgufTensorInfo *embd = file.findTensor("token_embd.weight");
  if (!embd)
    return makeError(file.source(), ": tensor 'token_embd.weight' is missing");
  if (embd->dims.size() != 2 || embd->dims[0] != spec.embeddingLength ||
      embd->dims[1] <= 0 || uint64_t(embd->dims[1]) > kMaxVocab)
    return makeError(file.source(), ": tensor 'token_embd.weight' has shape ",
                     dimsString(embd->dims), ", expected [",
                     std::to_string(spec.embeddingLength), ", n_vocab]");
  spec.vocabSize = static_cast<uint32_t>(embd->dims[1]);
  KILN_TRY(checkVocabularyRows(file, spec.vocabSize));
  int64_t width = spec.embeddingLength, vocab = spec.vocabSize;
  spec.tokenEmbedding = r.tensor("token_embd.weight", {width, vocab});
  if (spec.family == ModelFamily::Gpt2)
    spec.positionEmbedding =
        r.tensor("position_embd.weight", {width, int64_t(spec.contextLength)});

  if (spec.family == ModelFamily::Llama)
    readLlamaLayers(r, spec);
  else
    readGpt2Layers(r, spec);

  spec.outputNorm = r.tensor("output_norm.weight", {width});
  if (spec.family == ModelFamily::Gpt2)
    spec.outputNormBias = r.tensor("output_norm.bias", {width});
  if (r.has("output.weight")) {
    spec.output = r.tensor("output.weight", {width, vocab});
  } else {
    spec.output = spec.tokenEmbedding;
    spec.tiedOutput = true;
  }
  if (r.failed())
    return r.takeError();
  const GgufMetadata &meta = file.metadata();
  auto names = meta.getArrayOf<std::string>("kiln.precision.tensors");
  auto sources = meta.getArrayOf<std::string>("kiln.precision.source_types");
  auto costs = meta.getArrayOf<double>("kiln.precision.costs");
  if (names && sources && costs && names->size() == sources->size() &&
      names->size() == costs->size())
    for (size_t i = 0; i < names->size(); ++i)
      spec.precision[(*names)[i]] = {(*sources)[i], (*costs)[i]};
  return spec;
}

} // namespace kiln
