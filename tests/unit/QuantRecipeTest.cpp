// Recipes and whole-model quantization against llama-quantize: the shared
// tinyshakes files it wrote are reproduced byte for byte, and the mixing
// rules give the types llama.cpp's rules give on larger layer counts.
#include "gguf/GgufFile.h"
#include "quant/ModelQuantizer.h"
#include "quant/QuantRecipe.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln {
namespace {

using T = GgmlType;

TEST(QuantRecipe, NamesAliasesAndCase) {
  ASSERT_TRUE(findRecipe("q4_k_m"));
  EXPECT_EQ(findRecipe("q4_k_m")->fileType, FileType::Q4_K_M);
  EXPECT_EQ(findRecipe("Q4_K")->fileType, FileType::Q4_K_M);
  EXPECT_EQ(findRecipe("q3_K")->fileType, FileType::Q3_K_M);
  EXPECT_EQ(findRecipe("BF16")->baseType, T::BF16);
  EXPECT_EQ(findRecipe("f32")->fileType, FileType::AllF32);
  EXPECT_FALSE(findRecipe("q4_k_x"));
  EXPECT_FALSE(findRecipe("iq2_xxs"));
  EXPECT_EQ(allRecipes().size(), 17u);
}

TEST(QuantRecipe, WhichTensorsAreQuantized) {
  std::vector<int64_t> matrix{256, 64}, vector{256}, column{256, 1};
  EXPECT_TRUE(isQuantizedTensor("blk.0.attn_q.weight", matrix));
  EXPECT_TRUE(isQuantizedTensor("token_embd.weight", matrix));
  EXPECT_FALSE(isQuantizedTensor("blk.0.attn_norm.weight", vector));
  EXPECT_FALSE(isQuantizedTensor("blk.0.attn_q.bias", matrix));
  EXPECT_FALSE(isQuantizedTensor("blk.0.attn_q.weight", column)); // 1-D
  EXPECT_FALSE(isQuantizedTensor("blk.0.attn_norm.weight", matrix));
  EXPECT_FALSE(isQuantizedTensor("blk.0.ffn_gate_inp.weight", matrix));
  EXPECT_FALSE(isQuantizedTensor("position_embd.weight", matrix));
}

TEST(QuantRecipe, TensorOrderIsLlamaQuantizes) {
  std::vector<std::string> names{"blk.10.ffn_up.weight", "token_embd.weight",
                                 "blk.2.attn_q.weight", "output.weight",
                                 "blk.2.attn_k.weight", "output_norm.weight"};
  std::vector<std::string> ordered;
  for (size_t i : llamaTensorOrder(names))
    ordered.push_back(names[i]);
  EXPECT_EQ(ordered, (std::vector<std::string>{
                         "output.weight", "output_norm.weight",
                         "token_embd.weight", "blk.2.attn_k.weight",
                         "blk.2.attn_q.weight", "blk.10.ffn_up.weight"}));
}

// The types a recipe gives attn_v and ffn_down in each of `layers` layers.
std::vector<std::pair<T, T>> layerTypes(std::string_view recipe, int layers,
                                        uint32_t heads, uint32_t kvHeads) {
  RecipeModel model;
  model.architecture = "llama";
  model.layerCount = layers;
  model.headCount = heads;
  model.headCountKv = kvHeads;
  model.hasOutput = true;
  model.attentionVCount = layers;
  RecipePlanner planner(*findRecipe(recipe), model, {});
  std::vector<std::pair<T, T>> types;
  for (int i = 0; i < layers; ++i) {
    std::string prefix = "blk." + std::to_string(i) + ".";
    T v = planner.choose(prefix + "attn_v.weight", 4096).type;
    T down = planner.choose(prefix + "ffn_down.weight", 11008).type;
    types.emplace_back(v, down);
  }
  return types;
}

TEST(QuantRecipe, MoreBitsInTheFirstLastAndEveryThirdLayer) {
  // 32 layers: layers 0-3, 28-31 and 4 + 3k + 2 (6, 9, ..., 27).
  auto types = layerTypes("Q4_K_M", 32, 32, 32);
  for (int i = 0; i < 32; ++i) {
    bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
    T expected = more ? T::Q6_K : T::Q4_K;
    EXPECT_EQ(types[i].first, expected) << "attn_v layer " << i;
    EXPECT_EQ(types[i].second, expected) << "ffn_down layer " << i;
  }
}

TEST(QuantRecipe, SmallMixesFollowLlamaCpp) {
  auto q3m = layerTypes("Q3_K_M", 32, 32, 8);
  EXPECT_EQ(q3m[0], std::make_pair(T::Q5_K, T::Q5_K)); // layer < 32/16
  EXPECT_EQ(q3m[1], std::make_pair(T::Q5_K, T::Q5_K));
  EXPECT_EQ(q3m[2], std::make_pair(T::Q4_K, T::Q4_K));
  auto q4s = layerTypes("Q4_K_S", 32, 32, 8);
  EXPECT_EQ(q4s[3], std::make_pair(T::Q5_K, T::Q5_K));
  EXPECT_EQ(q4s[4], std::make_pair(T::Q4_K, T::Q4_K));
  // q2_K: attn_v q4_K when 4 or more query heads share a kv head.
  EXPECT_EQ(layerTypes("Q2_K", 8, 32, 8)[5].first, T::Q4_K);
  EXPECT_EQ(layerTypes("Q2_K", 8, 32, 16)[5].first, T::Q3_K);
  EXPECT_EQ(layerTypes("Q2_K", 8, 32, 16)[5].second, T::Q3_K);
  // 80 layers with grouped-query attention is llama.cpp's "70B" rule.
  EXPECT_EQ(layerTypes("Q3_K_M", 80, 64, 8)[10].first, T::Q5_K);
  EXPECT_EQ(layerTypes("Q3_K_M", 32, 64, 8)[10].first, T::Q4_K);
}

TEST(QuantRecipe, OutputAndFallbacks) {
  RecipeModel model;
  model.architecture = "llama";
  model.layerCount = 2;
  model.hasOutput = true;
  RecipePlanner q4(*findRecipe("Q4_0"), model, {});
  EXPECT_EQ(q4.choose("output.weight", 4096).type, T::Q6_K);
  EXPECT_EQ(q4.choose("token_embd.weight", 4096).type, T::Q4_0);
  RecipePlanner q8(*findRecipe("Q8_0"), model, {});
  EXPECT_EQ(q8.choose("output.weight", 4096).type, T::Q8_0);

  RecipePlanner k(*findRecipe("Q4_K_M"), model, {});
  EXPECT_EQ(k.choose("output.weight", 288).type, T::Q8_0);
  auto q = k.choose("blk.0.attn_q.weight", 288);
  EXPECT_EQ(q.type, T::Q5_0);
  EXPECT_EQ(q.preferred, T::Q4_K);
  EXPECT_EQ(k.choose("blk.0.attn_q.weight", 100).type, T::F16);

  RecipePlanner k3(*findRecipe("Q3_K_S"), model, {});
  EXPECT_EQ(k3.choose("blk.0.attn_q.weight", 288).type, T::IQ4_NL);

  // Tied output: token_embd takes output.weight's treatment.
  model.hasOutput = false;
  RecipePlanner tied(*findRecipe("Q5_K_S"), model, {});
  EXPECT_EQ(tied.choose("token_embd.weight", 4096).type, T::Q6_K);

  RecipeOptions pure{true, T::Q8_0, T::Q4_0};
  RecipePlanner p(*findRecipe("Q4_K_M"), model, pure);
  EXPECT_EQ(p.choose("blk.0.attn_v.weight", 4096).type, T::Q4_K);
  EXPECT_EQ(p.choose("output.weight", 4096).type, T::Q8_0);
  EXPECT_EQ(p.choose("token_embd.weight", 4096).type, T::Q4_0);
}

// The shared files llama-quantize wrote from tinyshakes-llama-f32.gguf.
const std::map<std::string, std::string> kLlamaFiles = {
    {"Q4_0", "q4_0"},     {"Q4_1", "q4_1"},     {"Q5_0", "q5_0"},
    {"Q5_1", "q5_1"},     {"Q8_0", "q8_0"},     {"Q2_K", "q2_k"},
    {"Q3_K_M", "q3_k_m"}, {"Q4_K_M", "q4_k_m"}, {"Q5_K_M", "q5_k_m"},
    {"Q6_K", "q6_k"},
};

TEST(ModelQuantizer, ReproducesLlamaQuantizeFiles) {
  const std::string dir = "tinyshakes-llama/tinyshakes-llama-";
  auto input = GgufFile::open(test::sharedFile(dir + "f32.gguf"));
  ASSERT_TRUE(input.ok()) << input.error().message;
  test::TempDir temp;
  for (const auto &[recipeName, suffix] : kLlamaFiles) {
    SCOPED_TRACE(recipeName);
    QuantizeOptions options{*findRecipe(recipeName), {}, 2, {}};
    auto plan = planQuantization(*input, options.recipe, {});
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    std::string out = temp.file(suffix + ".gguf");
    Status written = writeQuantized(*input, *plan, options, out);
    ASSERT_TRUE(written.ok()) << written.message();

    auto ours = GgufFile::open(out);
    auto theirs = GgufFile::open(test::sharedFile(dir + suffix + ".gguf"));
    ASSERT_TRUE(ours.ok() && theirs.ok());
    ASSERT_EQ(ours->tensors().size(), theirs->tensors().size());
    for (size_t i = 0; i < ours->tensors().size(); ++i) {
      const GgufTensorInfo &a = ours->tensors()[i], &b = theirs->tensors()[i];
      ASSERT_EQ(a.name, b.name) << "tensor order";
      EXPECT_EQ(a.type, b.type) << a.name;
      auto x = ours->tensorData(a), y = theirs->tensorData(b);
      EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end()))
          << a.name << ": bytes differ";
    }
    EXPECT_EQ(*ours->metadata().getUInt("general.file_type"),
              static_cast<uint64_t>(options.recipe.fileType));
    // Metadata order too: the whole file is llama-quantize's.
    EXPECT_EQ(test::readBytes(out),
              test::readBytes(test::sharedFile(dir + suffix + ".gguf")));
  }
}

TEST(ModelQuantizer, RequantizingDequantizesFirstAndCopiesSameTypes) {
  auto input = GgufFile::open(
      test::sharedFile("tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  ASSERT_TRUE(input.ok());
  auto toQ4 = planQuantization(*input, *findRecipe("Q4_0"), {});
  ASSERT_TRUE(toQ4.ok());
  EXPECT_EQ(toQ4->requantized.size(), 30u); // every q8_0 matrix
  auto toQ8 = planQuantization(*input, *findRecipe("Q8_0"), {});
  ASSERT_TRUE(toQ8.ok());
  EXPECT_TRUE(toQ8->requantized.empty()); // same type: bytes copied
  for (const TensorPlan &step : toQ8->tensors)
    EXPECT_FALSE(step.convert);
}

} // namespace
} // namespace kiln
