// GPT2LMHeadModel: LayerNorms with biases, learned positions, fused c_attn.
// Conv1D weights are stored [in, out] and written [out, in]; the output
// matrix is the token embedding (llama.cpp's gpt2 loader requires it).
#include "Architecture.h"

namespace kiln::convert {

namespace {

struct Gpt2Shape {
  int64_t embd, ff, layers, heads, vocab, positions;
};

Result<Gpt2Shape> readShape(const JsonFile &config) {
  auto embd = config.getUInt({"n_embd"});
  auto layers = config.getUInt({"n_layer"});
  auto heads = config.getUInt({"n_head"});
  auto vocab = config.getUInt({"vocab_size"});
  auto positions = config.getUInt({"n_positions", "n_ctx"});
  for (auto *value : {&embd, &layers, &heads, &vocab, &positions})
    if (!*value)
      return value->error();
  auto inner = config.optUInt("n_inner");
  if (!inner)
    return inner.error();
  for (uint64_t value : {*embd, *layers, *heads, *vocab, *positions, inner->value_or(0)})
    if (value > (1u << 24))
      return makeError(config.path(), ": a dimension of ", std::to_string(value),
                       " is implausibly large (over 2^24)");
  return Gpt2Shape{static_cast<int64_t>(*embd),
                   static_cast<int64_t>(inner->value_or(4 * *embd)),
                   static_cast<int64_t>(*layers), static_cast<int64_t>(*heads),
                   static_cast<int64_t>(*vocab),
                   static_cast<int64_t>(*positions)};
}

Status addGpt2Parameters(const JsonFile &config, uint32_t fileType,
                         GgufMetadata &out) {
  auto shape = readShape(config);
  if (!shape)
    return shape.error();
  auto context = config.getUInt({"n_ctx", "n_positions"});
  if (!context)
    return context.error();
  // The loader reads position_embd's rows (n_positions) as context_length.
  if (static_cast<int64_t>(*context) != shape->positions)
    return config.fieldError("n_ctx", "is " + std::to_string(*context) +
                                          ", but n_positions is " +
                                          std::to_string(shape->positions) +
                                          " (position_embd has n_positions rows)");
  auto eps = config.getFloat({"layer_norm_epsilon"});
  if (!eps)
    return eps.error();
  using detail::putHparam;
  auto count = [](int64_t value) { return static_cast<double>(value); };
  KILN_TRY(putHparam(config, "n_layer", "gpt2", Hparam::BlockCount, count(shape->layers), out));
  KILN_TRY(putHparam(config, "n_ctx", "gpt2", Hparam::ContextLength,
                     static_cast<double>(*context), out));
  KILN_TRY(putHparam(config, "n_embd", "gpt2", Hparam::EmbeddingLength, count(shape->embd), out));
  KILN_TRY(putHparam(config, "n_inner", "gpt2", Hparam::FeedForwardLength, count(shape->ff), out));
  KILN_TRY(putHparam(config, "n_head", "gpt2", Hparam::HeadCount, count(shape->heads), out));
  KILN_TRY(putHparam(config, "layer_norm_epsilon", "gpt2", Hparam::LayerNormEpsilon, *eps, out));
  out.set("general.file_type", GgufValue(fileType));
  return {};
}

Result<std::vector<PlannedTensor>> planGpt2(const JsonFile &config,
                                            const Checkpoint &checkpoint) {
  auto shape = readShape(config);
  if (!shape)
    return shape.error();
  const Gpt2Shape &s = *shape;
  detail::Planner planner(config, checkpoint);
  // GPT2LMHeadModel saves "transformer.*"; a bare GPT2Model saves "*".
  std::string root = planner.has("transformer.wte.weight") ? "transformer." : "";
  KILN_TRY(planner.take(root + "wte.weight", "token_embd.weight",
                        {s.vocab, s.embd}, true));
  KILN_TRY(planner.take(root + "wpe.weight", "position_embd.weight",
                        {s.positions, s.embd}, true));
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string hf = root + "h." + std::to_string(i) + ".";
    const std::string gg = "blk." + std::to_string(i) + ".";
    auto norm = [&](const char *from, const char *to) -> Status {
      KILN_TRY(planner.take(hf + from + ".weight", gg + to + ".weight", {s.embd}, true));
      return planner.take(hf + from + ".bias", gg + to + ".bias", {s.embd}, true);
    };
    // Conv1D: weight [in, out], bias [out].
    auto conv = [&](const char *from, const char *to, int64_t in,
                    int64_t outDim) -> Status {
      KILN_TRY(planner.take(hf + from + ".weight", gg + to + ".weight",
                            {in, outDim}, true, Rearrange::Transpose));
      return planner.take(hf + from + ".bias", gg + to + ".bias", {outDim}, true);
    };
    KILN_TRY(norm("ln_1", "attn_norm"));
    KILN_TRY(conv("attn.c_attn", "attn_qkv", s.embd, 3 * s.embd));
    KILN_TRY(conv("attn.c_proj", "attn_output", s.embd, s.embd));
    KILN_TRY(norm("ln_2", "ffn_norm"));
    KILN_TRY(conv("mlp.c_fc", "ffn_up", s.embd, s.ff));
    KILN_TRY(conv("mlp.c_proj", "ffn_down", s.ff, s.embd));
  }
  KILN_TRY(planner.take(root + "ln_f.weight", "output_norm.weight", {s.embd}, true));
  KILN_TRY(planner.take(root + "ln_f.bias", "output_norm.bias", {s.embd}, true));
  if (planner.has("lm_head.weight"))
    KILN_TRY(planner.take("lm_head.weight", "output.weight", {s.vocab, s.embd}, true));
  else
    KILN_TRY(planner.duplicate("token_embd.weight", "output.weight"));
  return planner.finish("gpt2", {".attn.bias", ".attn.masked_bias"});
}

} // namespace

extern const Architecture kGpt2Architecture = {
    "GPT2LMHeadModel", "gpt2", addGpt2Parameters, planGpt2, VocabKind::Bpe};

} // namespace kiln::convert
