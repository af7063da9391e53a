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

void addU32(GgufMetadata &out, const std::string &key, uint64_t value) {
  out.set(key, GgufValue(static_cast<uint32_t>(value)));
}
void addF32(GgufMetadata &out, const std::string &key, double value) {
  out.set(key, GgufValue(static_cast<float>(value)));
}

// llama.cpp's base parameters (Model.set_gguf_parameters), in its order.
Status addBaseParameters(const JsonFile &config, const std::string &arch,
                         uint32_t fileType, GgufMetadata &out) {
  const std::string p = arch + ".";
  auto layers = config.getUInt({"n_layers", "num_hidden_layers", "n_layer", "num_layers"});
  if (!layers)
    return layers.error();
  addU32(out, p + "block_count", *layers);
  auto optionalU32 = [&](std::initializer_list<std::string_view> keys,
                         const std::string &key) -> Status {
    for (std::string_view name : keys) {
      auto value = config.optUInt(name);
      if (!value)
        return value.error();
      if (*value) {
        addU32(out, key, **value);
        break;
      }
    }
    return {};
  };
  auto optionalF32 = [&](std::initializer_list<std::string_view> keys,
                         const std::string &key) -> Status {
    for (std::string_view name : keys) {
      auto value = config.optFloat(name);
      if (!value)
        return value.error();
      if (*value) {
        addF32(out, key, **value);
        break;
      }
    }
    return {};
  };
  KILN_TRY(optionalU32({"max_position_embeddings", "n_ctx"}, p + "context_length"));
  KILN_TRY(optionalU32({"hidden_size", "n_embd"}, p + "embedding_length"));
  KILN_TRY(optionalU32({"intermediate_size", "n_inner"}, p + "feed_forward_length"));
  KILN_TRY(optionalU32({"num_attention_heads", "n_head"}, p + "attention.head_count"));
  KILN_TRY(optionalU32({"num_key_value_heads"}, p + "attention.head_count_kv"));
  KILN_TRY(optionalF32({"rope_theta"}, p + "rope.freq_base"));
  KILN_TRY(optionalF32({"rms_norm_eps"}, p + "attention.layer_norm_rms_epsilon"));
  KILN_TRY(optionalF32({"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"},
                       p + "attention.layer_norm_epsilon"));
  if (config.has("num_local_experts"))
    return config.fieldError("num_local_experts",
                             "is set: mixture-of-experts models are not "
                             "converted yet");
  KILN_TRY(optionalU32({"head_dim"}, p + "attention.key_length"));
  KILN_TRY(optionalU32({"head_dim"}, p + "attention.value_length"));
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
  addU32(out, "llama.vocab_size", static_cast<uint64_t>(shape->vocab));
  addU32(out, "llama.rope.dimension_count", static_cast<uint64_t>(shape->headDim));
  if (const nlohmann::json *scaling = ropeScaling(config)) {
    std::string ropeType = scalingType(*scaling, "rope_type");
    if (ropeType == "llama3")
      return config.fieldError("rope_scaling",
                               "has rope_type llama3 (rope_freqs are not "
                               "generated yet)");
    auto factor = scaling->find("factor");
    if (factor != scaling->end() && factor->is_number() &&
        scalingType(*scaling, "type") == "linear") {
      out.set("llama.rope.scaling.type", GgufValue("linear"));
      addF32(out, "llama.rope.scaling.factor", factor->get<double>());
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
      addF32(out, "qwen2.rope.scaling.factor", factor->get<double>());
      addU32(out, "qwen2.rope.scaling.original_context_length",
             original->get<uint64_t>());
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
