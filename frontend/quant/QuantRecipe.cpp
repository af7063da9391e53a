#include "QuantRecipe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <numeric>

namespace kiln {

namespace {

using T = GgmlType;
using F = FileType;

constexpr std::array kRecipes = {
    RecipeInfo{"Q4_0", F::Q4_0, T::Q4_0},
    RecipeInfo{"Q4_1", F::Q4_1, T::Q4_1},
    RecipeInfo{"Q5_0", F::Q5_0, T::Q5_0},
    RecipeInfo{"Q5_1", F::Q5_1, T::Q5_1},
    RecipeInfo{"Q8_0", F::Q8_0, T::Q8_0},
    RecipeInfo{"Q2_K", F::Q2_K, T::Q2_K},
    RecipeInfo{"Q3_K_S", F::Q3_K_S, T::Q3_K},
    RecipeInfo{"Q3_K_M", F::Q3_K_M, T::Q3_K},
    RecipeInfo{"Q3_K_L", F::Q3_K_L, T::Q3_K},
    RecipeInfo{"Q4_K_S", F::Q4_K_S, T::Q4_K},
    RecipeInfo{"Q4_K_M", F::Q4_K_M, T::Q4_K},
    RecipeInfo{"Q5_K_S", F::Q5_K_S, T::Q5_K},
    RecipeInfo{"Q5_K_M", F::Q5_K_M, T::Q5_K},
    RecipeInfo{"Q6_K", F::Q6_K, T::Q6_K},
    RecipeInfo{"F16", F::F16, T::F16},
    RecipeInfo{"BF16", F::BF16, T::BF16},
    RecipeInfo{"F32", F::AllF32, T::F32},
};

// llama-quantize's short names for the medium mixes.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3>
    kAliases = {{{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}}};

bool sameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool contains(std::string_view name, std::string_view part) {
  return name.find(part) != std::string_view::npos;
}

// The layer number of "blk.N....", or -1, read as C's sscanf("blk.%d.")
// would: digits after "blk.", whatever follows.
int layerOf(std::string_view name) {
  if (!name.starts_with("blk."))
    return -1;
  int layer = -1;
  const char *begin = name.data() + 4, *end = name.data() + name.size();
  if (begin != end && *begin == '+')
    ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, layer);
  return ec == std::errc() ? layer : -1;
}

// Names whose tensors are never quantized, as substrings or whole names.
constexpr std::array<std::string_view, 10> kKeptSubstrings = {
    "_norm.weight",           "ffn_gate_inp.weight",
    "ssm_conv1d.weight",      "time_mix_first.weight",
    "time_mix_w1.weight",     "time_mix_w2.weight",
    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight",
};
constexpr std::array<std::string_view, 2> kKeptNames = {
    "position_embd.weight", "token_types.weight"};

// The layer counts at which llama.cpp calls a model "70B" (8 heads share
// each attention-value head, so attn_v is small and gets more bits).
bool isSeventyB(const RecipeModel &model) {
  if (model.layerCount != 80)
    return false;
  if (model.architecture == "llama")
    return model.expertCount != 8 && model.headCount != model.headCountKv;
  return model.architecture == "deci" || model.architecture == "qwen2" ||
         model.architecture == "olmo";
}

// The first and last eighth of the layers, and every third one between.
bool useMoreBits(int layer, int layerCount) {
  return layer < layerCount / 8 || layer >= 7 * layerCount / 8 ||
         (layer - layerCount / 8) % 3 == 2;
}

// The type llama.cpp substitutes when a row is not a whole number of blocks.
std::optional<GgmlType> fallbackFor(GgmlType type) {
  switch (type) {
  case T::Q2_K:
  case T::Q3_K:
    return T::IQ4_NL;
  case T::Q4_K:
    return T::Q5_0;
  case T::Q5_K:
    return T::Q5_1;
  case T::Q6_K:
    return T::Q8_0;
  default:
    return std::nullopt;
  }
}

uint32_t firstHeadCount(const GgufMetadata &metadata, const std::string &key) {
  if (auto value = metadata.getUInt(key))
    return static_cast<uint32_t>(*value);
  if (auto perLayer = metadata.getArrayOf<int32_t>(key))
    if (!perLayer->empty() && (*perLayer)[0] > 0)
      return static_cast<uint32_t>((*perLayer)[0]);
  return 0;
}

} // namespace

std::span<const RecipeInfo> allRecipes() { return kRecipes; }

std::optional<RecipeInfo> findRecipe(std::string_view name) {
  for (auto [alias, target] : kAliases)
    if (sameIgnoringCase(name, alias))
      name = target;
  for (const RecipeInfo &recipe : kRecipes)
    if (sameIgnoringCase(name, recipe.name))
      return recipe;
  return std::nullopt;
}

RecipeModel RecipeModel::from(const GgufMetadata &metadata,
                              std::span<const std::string> tensorNames) {
  RecipeModel model;
  if (auto arch = metadata.getString("general.architecture"))
    model.architecture = std::string(*arch);
  const std::string prefix = model.architecture + ".";
  if (auto layers = metadata.getUInt(prefix + "block_count"))
    model.layerCount = static_cast<int>(*layers);
  model.headCount = firstHeadCount(metadata, prefix + "attention.head_count");
  model.headCountKv =
      firstHeadCount(metadata, prefix + "attention.head_count_kv");
  if (model.headCountKv == 0)
    model.headCountKv = model.headCount; // llama.cpp's default
  if (auto experts = metadata.getUInt(prefix + "expert_count"))
    model.expertCount = static_cast<uint32_t>(*experts);
  for (const std::string &name : tensorNames) {
    if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight") ||
        contains(name, "attn_kv_b.weight"))
      ++model.attentionVCount;
    else if (name == "output.weight")
      model.hasOutput = true;
  }
  return model;
}

bool isQuantizedTensor(std::string_view name, std::span<const int64_t> dims) {
  // Trailing dimensions of 1 do not count (ggml_n_dims).
  size_t rank = dims.size();
  while (rank > 1 && dims[rank - 1] == 1)
    --rank;
  if (!name.ends_with("weight") || rank < 2)
    return false;
  for (std::string_view part : kKeptSubstrings)
    if (contains(name, part))
      return false;
  return std::find(kKeptNames.begin(), kKeptNames.end(), name) ==
         kKeptNames.end();
}

RecipePlanner::Choice RecipePlanner::choose(std::string_view name,
                                            int64_t rowLength) {
  GgmlType type = recipe_.baseType;
  bool quantizedBase = ggmlTypeInfo(type).blockSize > 1;
  if (!options_.pure && quantizedBase)
    type = mixedType(name, rowLength);
  if (options_.tokenEmbeddingType && name == "token_embd.weight")
    type = *options_.tokenEmbeddingType;
  if (options_.outputType && name == "output.weight")
    type = *options_.outputType;

  Choice choice{type, std::nullopt};
  if (rowLength % ggmlTypeInfo(type).blockSize != 0) {
    // llama.cpp checks only its own mixes; --pure and explicit types get the
    // same fallback here instead of its crash.
    choice.preferred = type;
    choice.type = fallbackFor(type).value_or(type);
    if (rowLength % ggmlTypeInfo(choice.type).blockSize != 0)
      choice.type = fallbackFor(type) ? T::F16 : type;
  }
  return choice;
}

// llama.cpp's llama_tensor_get_type, for the file types above.
GgmlType RecipePlanner::mixedType(std::string_view name, int64_t rowLength) {
  const F ftype = recipe_.fileType;
  const bool falcon = model_.architecture == "falcon";
  const bool eightExperts = model_.expertCount == 8;
  GgmlType type = recipe_.baseType;

  if (name == "output.weight" ||
      (!model_.hasOutput && name == "token_embd.weight")) {
    if (options_.outputType)
      return *options_.outputType;
    if (falcon || rowLength % ggmlTypeInfo(type).blockSize != 0)
      return T::Q8_0;
    return type == T::Q8_0 ? T::Q8_0 : T::Q6_K;
  }
  if (name == "token_embd.weight")
    return options_.tokenEmbeddingType.value_or(type);

  if (contains(name, "attn_v.weight")) {
    int layer = attentionVSeen_++, count = model_.attentionVCount;
    uint32_t gqa = model_.headCountKv ? model_.headCount / model_.headCountKv
                                      : 0;
    if (ftype == F::Q2_K)
      type = gqa >= 4 ? T::Q4_K : T::Q3_K;
    else if (ftype == F::Q3_K_M)
      type = layer < 2 ? T::Q5_K : T::Q4_K;
    else if (ftype == F::Q3_K_L)
      type = T::Q5_K;
    else if ((ftype == F::Q4_K_M || ftype == F::Q5_K_M) &&
             useMoreBits(layer, count))
      type = T::Q6_K;
    else if (ftype == F::Q4_K_S && layer < 4)
      type = T::Q5_K;
    if (isSeventyB(model_) && (type == T::Q3_K || type == T::Q4_K))
      type = T::Q5_K;
    if (eightExperts)
      type = T::Q8_0;
    return type;
  }
  if (contains(name, "attn_k.weight"))
    return eightExperts ? T::Q8_0 : type;
  if (contains(name, "attn_q.weight"))
    return type;
  if (contains(name, "ffn_down")) {
    // Counted in tensor order, except for mixtures of experts, whose
    // expert tensors may come in any order: there the name says.
    int layer = ffnDownSeen_++, count = model_.layerCount;
    if (model_.expertCount > 1)
      layer = layerOf(name);
    if (ftype == F::Q2_K)
      type = T::Q3_K;
    else if (ftype == F::Q3_K_M)
      type = layer < count / 16                        ? T::Q5_K
             : !falcon || useMoreBits(layer, count)    ? T::Q4_K
                                                       : T::Q3_K;
    else if (ftype == F::Q3_K_L)
      type = falcon ? T::Q4_K : T::Q5_K;
    else if (ftype == F::Q4_K_M) {
      if (falcon)
        type = layer < count / 16              ? T::Q6_K
               : useMoreBits(layer, count)     ? T::Q5_K
                                               : T::Q4_K;
      else if (useMoreBits(layer, count))
        type = T::Q6_K;
    } else if (ftype == F::Q5_K_M && useMoreBits(layer, count))
      type = T::Q6_K;
    else if (ftype == F::Q4_K_S && !falcon && layer < count / 8)
      type = T::Q5_K;
    return type;
  }
  if (contains(name, "attn_output.weight")) {
    if (falcon)
      return ftype == F::Q3_K_L ? T::Q4_K : type;
    if (eightExperts)
      return ftype == F::Q2_K || ftype == F::Q3_K_S || ftype == F::Q3_K_M ||
                     ftype == F::Q4_K_S || ftype == F::Q4_K_M
                 ? T::Q5_K
                 : type;
    if (ftype == F::Q2_K)
      return T::Q3_K;
    if (ftype == F::Q3_K_M)
      return T::Q4_K;
    if (ftype == F::Q3_K_L)
      return T::Q5_K;
    return type;
  }
  if (contains(name, "attn_qkv.weight")) {
    if (ftype == F::Q3_K_M || ftype == F::Q3_K_L)
      return T::Q4_K;
    if (ftype == F::Q4_K_M)
      return T::Q5_K;
    if (ftype == F::Q5_K_M)
      return T::Q6_K;
  }
  return type;
}

std::vector<size_t> llamaTensorOrder(std::span<const std::string> names) {
  std::vector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  // Tensor names are unique, so the order is total.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int layerA = layerOf(names[a]), layerB = layerOf(names[b]);
    if (layerA != layerB)
      return layerA < layerB;
    return names[a] < names[b];
  });
  return order;
}

} // namespace kiln
