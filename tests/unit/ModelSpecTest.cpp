#include "gguf/GgufFile.h"
#include "gguf/GgufWriter.h"
#include "model/ModelSpec.h"
#include "TestData.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

Result<ModelSpec> specOf(const std::string &relative) {
  auto file = GgufFile::open(test::sharedFile(relative));
  if (!file)
    return std::move(file).takeError();
  return ModelSpec::fromGguf(*file);
}

TEST(ModelSpec, TinyshakesLlama) {
  for (const char *type : {"f32", "f16", "q8_0", "q4_0", "q4_k_m", "q2_k"}) {
    SCOPED_TRACE(type);
    auto spec = specOf(std::string("tinyshakes-llama/tinyshakes-llama-") +
                       type + ".gguf");
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    EXPECT_EQ(spec->family, ModelFamily::Llama);
    EXPECT_EQ(spec->embeddingLength, 256u);
    EXPECT_EQ(spec->blockCount, 4u);
    EXPECT_EQ(spec->headCount, 8u);
    EXPECT_EQ(spec->headCountKv, 8u);
    EXPECT_EQ(spec->headDim, 32u);
    EXPECT_EQ(spec->ropeDims, 32u);
    EXPECT_EQ(spec->ropeMode, RopeMode::Normal);
    EXPECT_EQ(spec->vocabSize, 1000u);
    EXPECT_FLOAT_EQ(spec->normEpsilon, 1e-5f);
    EXPECT_FALSE(spec->tiedOutput);
    ASSERT_EQ(spec->layers.size(), 4u);
    EXPECT_EQ(spec->layers[2].ffnDown.dims, (std::vector<int64_t>{768, 256}));
    EXPECT_TRUE(spec->layers[0].ffnGate.has_value());
    EXPECT_FALSE(spec->layers[0].bq.has_value());
  }
}

TEST(ModelSpec, TinyshakesGpt2) {
  auto spec = specOf("tinyshakes-gpt2/tinyshakes-gpt2-q8_0.gguf");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->family, ModelFamily::Gpt2);
  EXPECT_EQ(spec->headDim, 32u);
  EXPECT_EQ(spec->headCountKv, 6u);
  EXPECT_EQ(spec->ropeMode, RopeMode::None);
  ASSERT_TRUE(spec->positionEmbedding.has_value());
  EXPECT_EQ(spec->positionEmbedding->dims, (std::vector<int64_t>{192, 256}));
  EXPECT_TRUE(spec->layers[3].wqkv.has_value());
  EXPECT_EQ(spec->layers[3].wqkv->dims, (std::vector<int64_t>{192, 576}));
  EXPECT_FALSE(spec->layers[3].ffnGate.has_value());
}

TEST(ModelSpec, ForeignLlamaWithTinyWidth) {
  auto spec = specOf("llama-2-tiny-random/llama-2-tiny-random.gguf");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->embeddingLength, 8u);
  EXPECT_EQ(spec->headDim, 4u);
  EXPECT_EQ(spec->ropeDims, 4u);
  EXPECT_EQ(spec->vocabSize, 32000u);
  EXPECT_EQ(spec->layers[0].wq->type, GgmlType::F16);
}

// Every shared model with weights loads under the loader's checks (the
// vocabulary files hold no tensors and are not models).
TEST(ModelSpec, EverySharedModelLoads) {
  size_t models = 0;
  for (const std::string &path : test::allSharedGgufFiles()) {
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    if (!file->findTensor("token_embd.weight"))
      continue;
    ++models;
    auto spec = ModelSpec::fromGguf(*file);
    EXPECT_TRUE(spec.ok()) << path << ": " << spec.error().message;
  }
  EXPECT_GE(models, 3u);
}

// Writes a modified copy of the bundled model and returns the spec error.
std::string errorAfter(void (*edit)(GgufWriter &)) {
  auto file = GgufFile::open(test::sharedFile(
      "tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  EXPECT_TRUE(file.ok());
  GgufWriter writer = GgufWriter::copyOf(*file);
  edit(writer);
  test::TempDir dir;
  EXPECT_TRUE(writer.write(dir.file("m.gguf")).ok());
  auto edited = GgufFile::open(dir.file("m.gguf"));
  EXPECT_TRUE(edited.ok());
  auto spec = ModelSpec::fromGguf(*edited);
  return spec.ok() ? "<ok>" : spec.error().message;
}

TEST(ModelSpec, ClearErrors) {
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("general.architecture", "mamba");
            }).find("general.architecture 'mamba' is not supported"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("general.architecture", "llama");
              w.metadata().erase("llama.block_count");
            }).find("'llama.block_count' is missing"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.attention.head_count_kv", uint32_t{3});
            }).find("is not a multiple of head_count_kv 3"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.embedding_length", "wide");
            }).find("'llama.embedding_length': expected an integer, found "
                    "string"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.block_count", uint32_t{5});
            }).find("tensor 'blk.4.attn_norm.weight' is missing"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.feed_forward_length", uint32_t{512});
            }).find("tensor 'blk.0.ffn_gate.weight' has shape [256, 768], "
                    "expected [256, 512]"),
            std::string::npos);
}

TEST(ModelSpec, RefusesHyperparametersTheConverterAlsoRefuses) {
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.context_length", uint32_t{0});
            }).find("metadata key 'llama.context_length' is 0, out of range [1, 16777216]"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.attention.layer_norm_rms_epsilon", -1.0f);
            }).find("'llama.attention.layer_norm_rms_epsilon' is -1, a negative number"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.rope.freq_base", 0.0f);
            }).find("'llama.rope.freq_base' is 0, not a positive number"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("llama.rope.scaling.type", "linear");
              w.metadata().set("llama.rope.scaling.factor", -2.0f);
            }).find("'llama.rope.scaling.factor' is -2, not a positive number"),
            std::string::npos);
}

// The model has 1000 embedding and output rows.
TEST(ModelSpec, VocabularyMustMatchTheTableRows) {
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("tokenizer.ggml.tokens",
                               GgufArray{std::vector<std::string>(999, "t")});
            }).find("tensor 'token_embd.weight' has 1000 rows, but the vocabulary "
                    "(tokenizer.ggml.tokens) has 999 tokens"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("tokenizer.ggml.tokens",
                               GgufArray{std::vector<std::string>(1001, "t")});
            }).find("has 1000 rows, but the vocabulary (tokenizer.ggml.tokens) has "
                    "1001 tokens"),
            std::string::npos);
  EXPECT_NE(errorAfter([](GgufWriter &w) {
              w.metadata().set("tokenizer.ggml.tokens", uint32_t{7});
            }).find("tokenizer.ggml.tokens"),
            std::string::npos);
  // Without a vocabulary there is nothing to disagree with.
  EXPECT_EQ(errorAfter([](GgufWriter &w) { w.metadata().erase("tokenizer.ggml.tokens"); }),
            "<ok>");
}

} // namespace
} // namespace kiln
