// LlamaForCausalLM (also Mistral, TinyLlama, SmolLM) and Qwen2ForCausalLM:
// the same decoder layout; Llama's q/k rows are regrouped for GGUF's rope
// layout, Qwen2's are not (NeoX rope) and carry q/k/v biases.
#include "Architecture.h"

namespace kiln::convert {

namespace {

struct LlamaShape {
  int64_t embd, ff, layers, heads, kvHeads, headDim, vocab;
};

Result<LlamaShape> readShape(const JsonFile &config) {
  LlamaShape shape{};
  auto embd = config.getUInt({"hidden_size", "n_embd"});
  auto ff = config.getUInt({"intermediate_size", "n_inner"});
  auto layers = config.getUInt({"num_hidden_layers", "n_layers", "n_layer", "num_layers"});
  auto heads = config.getUInt({"num_attention_heads", "n_head"});
  auto vocab = config.getUInt({"vocab_size"});
  for (auto *value : {&embd, &ff, &layers, &heads, &vocab})
    if (!*value)
      return value->error();
  shape.embd = static_cast<int64_t>(*embd);
  shape.ff = static_cast<int64_t>(*ff);
  shape.layers = static_cast<int64_t>(*layers);
  shape.heads = static_cast<int64_t>(*heads);
  shape.vocab = static_cast<int64_t>(*vocab);
  if (shape.heads == 0)
    return config.fieldError("num_attention_heads", "is 0");
  // Bounds that keep the shape arithmetic below far from overflow.
  for (int64_t value : {shape.embd, shape.ff, shape.layers, shape.heads, shape.vocab})
    if (value > (int64_t(1) << 24))
      return makeError(config.path(), ": a dimension of ", std::to_string(value),
                       " is implausibly large (over 2^24)");
  auto kv = config.optUInt("num_key_value_heads");
  if (!kv)
    return kv.error();
  shape.kvHeads = static_cast<int64_t>(kv->value_or(*heads));
  auto headDim = config.optUInt("head_dim");
  if (!headDim)
    return headDim.error();
  shape.headDim = static_cast<int64_t>(headDim->value_or(*embd / *heads));
  if (shape.kvHeads == 0 || shape.heads % shape.kvHeads != 0)
    return config.fieldError("num_key_value_heads",
                             "does not divide num_attention_heads");
  if (shape.headDim == 0 || shape.headDim % 2 != 0 || shape.headDim > (1 << 16))
    return config.fieldError("head_dim", "is not a positive even number up to 65536");
  return shape;
}

// llama.cpp's base parameters (Model.set_gguf_parameters), in its order,
// each checked by the loader's rules.
Status addBaseParameters(const JsonFile &config, const std::string &arch,
                         uint32_t fileType, GgufMetadata &out) {
  using detail::putHparamFrom;
  KILN_TRY(putHparamFrom(config, {"n_layers", "num_hidden_layers", "n_layer", "num_layers"},
                         arch, Hparam::BlockCount, out));
  KILN_TRY(putHparamFrom(config, {"max_position_embeddings", "n_ctx"}, arch,
                         Hparam::ContextLength, out));
  KILN_TRY(putHparamFrom(config, {"hidden_size", "n_embd"}, arch,
                         Hparam::EmbeddingLength, out));
  KILN_TRY(putHparamFrom(config, {"intermediate_size", "n_inner"}, arch,
                         Hparam::FeedForwardLength, out));
  KILN_TRY(putHparamFrom(config, {"num_attention_heads", "n_head"}, arch,
                         Hparam::HeadCount, out));
  KILN_TRY(putHparamFrom(config, {"num_key_value_heads"}, arch, Hparam::HeadCountKv, out));
  KILN_TRY(putHparamFrom(config, {"rope_theta"}, arch, Hparam::RopeFreqBase, out));
  KILN_TRY(putHparamFrom(config, {"rms_norm_eps"}, arch, Hparam::RmsNormEpsilon, out));
  KILN_TRY(putHparamFrom(config, {"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"},
                         arch, Hparam::LayerNormEpsilon, out));
  if (config.has("num_local_experts"))
    return config.fieldError("num_local_experts",
                             "is set: mixture-of-experts models are not "
                             "converted yet");
  KILN_TRY(putHparamFrom(config, {"head_dim"}, arch, Hparam::KeyLength, out));
  KILN_TRY(putHparamFrom(config, {"head_dim"}, arch, Hparam::ValueLength, out));
  out.set("general.file_type", GgufValue(fileType));
  return {};
}

const nlohmann::json *ropeScaling(const JsonFile &config) {
  const nlohmann::json *scaling = config.findFirst({"rope_scaling"});
  return scaling && scaling->is_object() ? scaling : nullptr;
}

std::string scalingType(const nlohmann::json &scaling, const char *key) {
  auto it = scaling.find(key);
  return it != scaling.end() && it->is_string() ? it->get<std::string>() : "";
}

Status addLlamaParameters(const JsonFile &config, uint32_t fileType,
                          GgufMetadata &out) {
  KILN_TRY(addBaseParameters(config, "llama", fileType, out));
  auto shape = readShape(config);
  if (!shape)
    return shape.error();
  out.set("llama.vocab_size", GgufValue(static_cast<uint32_t>(shape->vocab)));
  KILN_TRY(detail::putHparam(config, "head_dim", "llama", Hparam::RopeDimensionCount,
                             static_cast<double>(shape->headDim), out));
  if (const nlohmann::json *scaling = ropeScaling(config)) {
    std::string ropeType = scalingType(*scaling, "rope_type");
    if (ropeType == "llama3")
      return config.fieldError("rope_scaling",
                               "has rope_type llama3 (rope_freqs are not "
                               "generated yet)");
    if (scalingType(*scaling, "type") == "linear") {
      // Without its factor a linear scaling would be silently dropped.
      auto factor = scaling->find("factor");
      if (factor == scaling->end() || !factor->is_number())
        return config.fieldError("rope_scaling.factor",
                                 "is missing or not a number (rope_scaling.type "
                                 "is linear)");
      out.set("llama.rope.scaling.type", GgufValue("linear"));
      KILN_TRY(detail::putHparam(config, "rope_scaling.factor", "llama",
                                 Hparam::RopeScalingFactor, factor->get<double>(), out));
    }
  }
  return {};
}

Status addQwen2Parameters(const JsonFile &config, uint32_t fileType,
                          GgufMetadata &out) {
  KILN_TRY(addBaseParameters(config, "qwen2", fileType, out));
  if (const nlohmann::json *scaling = ropeScaling(config)) {
    auto factor = scaling->find("factor");
    if (factor != scaling->end() && factor->is_number() &&
        scalingType(*scaling, "type") == "yarn") {
      auto original = scaling->find("original_max_position_embeddings");
      if (original == scaling->end() || !original->is_number_unsigned())
        return config.fieldError("rope_scaling",
                                 "has type yarn without original_max_position_embeddings");
      out.set("qwen2.rope.scaling.type", GgufValue("yarn"));
      KILN_TRY(detail::putHparam(config, "rope_scaling.factor", "qwen2",
                                 Hparam::RopeScalingFactor, factor->get<double>(), out));
      out.set("qwen2.rope.scaling.original_context_length",
              GgufValue(static_cast<uint32_t>(original->get<uint64_t>())));
    }
  }
  return {};
}

// Tensor names in Hugging Face's module order (what llama.cpp writes when
// it reads pytorch_model.bin), whichever order the checkpoint stores them.
Result<std::vector<PlannedTensor>> planDecoder(const JsonFile &config,
                                               const Checkpoint &checkpoint,
                                               bool permuteRope,
                                               std::string_view arch) {
  auto shape = readShape(config);
  if (!shape)
    return shape.error();
  const LlamaShape &s = *shape;
  const int64_t qRows = s.heads * s.headDim, kvRows = s.kvHeads * s.headDim;
  detail::Planner planner(config, checkpoint);
  KILN_TRY(planner.take("model.embed_tokens.weight", "token_embd.weight",
                        {s.vocab, s.embd}, true));
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string hf = "model.layers." + std::to_string(i) + ".";
    const std::string gg = "blk." + std::to_string(i) + ".";
    struct Projection {
      const char *hf, *gguf;
      int64_t rows, cols;
      uint32_t ropeHeads;
    };
    const Projection attention[] = {
        {"self_attn.q_proj", "attn_q", qRows, s.embd,
         permuteRope ? static_cast<uint32_t>(s.heads) : 0u},
        {"self_attn.k_proj", "attn_k", kvRows, s.embd,
         permuteRope ? static_cast<uint32_t>(s.kvHeads) : 0u},
        {"self_attn.v_proj", "attn_v", kvRows, s.embd, 0},
        {"self_attn.o_proj", "attn_output", s.embd, qRows, 0},
        {"mlp.gate_proj", "ffn_gate", s.ff, s.embd, 0},
        {"mlp.up_proj", "ffn_up", s.ff, s.embd, 0},
        {"mlp.down_proj", "ffn_down", s.embd, s.ff, 0},
    };
    for (const Projection &p : attention) {
      Rearrange rearrange = p.ropeHeads ? Rearrange::PermuteRopeRows : Rearrange::None;
      KILN_TRY(planner.take(hf + p.hf + ".weight", gg + p.gguf + ".weight",
                            {p.rows, p.cols}, true, rearrange, p.ropeHeads));
      KILN_TRY(planner.take(hf + p.hf + ".bias", gg + p.gguf + ".bias",
                            {p.rows}, false, rearrange, p.ropeHeads));
    }
    KILN_TRY(planner.take(hf + "input_layernorm.weight", gg + "attn_norm.weight",
                          {s.embd}, true));
    KILN_TRY(planner.take(hf + "post_attention_layernorm.weight",
                          gg + "ffn_norm.weight", {s.embd}, true));
  }
  KILN_TRY(planner.take("model.norm.weight", "output_norm.weight", {s.embd}, true));
  // Tied embeddings: no lm_head in the checkpoint, and llama.cpp reuses
  // token_embd when output is absent.
  KILN_TRY(planner.take("lm_head.weight", "output.weight", {s.vocab, s.embd}, false));
  return planner.finish(arch, {".rotary_emb.inv_freq"});
}

Result<std::vector<PlannedTensor>> planLlama(const JsonFile &config,
                                             const Checkpoint &checkpoint) {
  return planDecoder(config, checkpoint, /*permuteRope=*/true, "llama");
}

Result<std::vector<PlannedTensor>> planQwen2(const JsonFile &config,
                                             const Checkpoint &checkpoint) {
  return planDecoder(config, checkpoint, /*permuteRope=*/false, "qwen2");
}

} // namespace

extern const Architecture kLlamaArchitecture = {
    "LlamaForCausalLM", "llama", addLlamaParameters, planLlama,
    VocabKind::SentencePieceFirst};
extern const Architecture kMistralArchitecture = {
    "MistralForCausalLM", "llama", addLlamaParameters, planLlama,
    VocabKind::SentencePieceFirst};
extern const Architecture kQwen2Architecture = {
    "Qwen2ForCausalLM", "qwen2", addQwen2Parameters, planQwen2,
    VocabKind::SentencePieceFirst};

} // namespace kiln::convert
