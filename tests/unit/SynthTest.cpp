#include "gguf/GgufFile.h"
#include "quant/Dequantize.h"
#include "synth/SyntheticModel.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kiln {
namespace {

GgufFile openVocab() {
  auto vocab = GgufFile::open(
      test::sharedFile("vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_TRUE(vocab.ok()) << vocab.error().message;
  return std::move(vocab).value();
}

TEST(Synth, TinyPresetIsAValidLlamaModel) {
  test::TempDir dir;
  GgufFile vocab = openVocab();
  SynthOptions options;
  options.shape = findLlamaPreset("tiny");
  ASSERT_NE(options.shape, nullptr);
  options.type = GgmlType::Q8_0;
  std::string path = dir.file("tiny.gguf");
  Status written = writeSyntheticLlama(options, vocab, path);
  ASSERT_TRUE(written.ok()) << written.message();

  auto model = GgufFile::open(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const GgufMetadata &meta = model->metadata();
  EXPECT_EQ(*meta.getString("general.architecture"), "llama");
  EXPECT_EQ(*meta.getUInt("general.file_type"), 7u); // MOSTLY_Q8_0
  EXPECT_EQ(*meta.getUInt("llama.embedding_length"), 64u);
  EXPECT_EQ(*meta.getUInt("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*meta.getUInt("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(*meta.getString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ((*meta.getArray("tokenizer.ggml.tokens"))->size(), 32000u);
  EXPECT_EQ(model->tensors().size(), 2u + 2u * 9u + 1u);

  const GgufTensorInfo *k = model->findTensor("blk.1.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->dims, (std::vector<int64_t>{64, 32})); // 2 kv heads x 16
  EXPECT_EQ(k->type, GgmlType::Q8_0);
  const GgufTensorInfo *norm = model->findTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, GgmlType::F32);

  // Weights are N(0, 0.02): check the moments of the embedding.
  const GgufTensorInfo *embd = model->findTensor("token_embd.weight");
  std::vector<float> values(embd->elementCount);
  ASSERT_TRUE(dequantize(embd->type, model->tensorData(*embd), values).ok());
  double sum = 0, sum2 = 0;
  for (float v : values) {
    sum += v;
    sum2 += double(v) * v;
  }
  double mean = sum / values.size();
  double stddev = std::sqrt(sum2 / values.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(stddev, 0.02, 2e-4);
}

TEST(Synth, SameSeedSameBytesWhateverTheThreadCount) {
  test::TempDir dir;
  GgufFile vocab = openVocab();
  SynthOptions options;
  options.shape = findLlamaPreset("tiny");
  options.type = GgmlType::Q4_0;
  options.threads = 1;
  ASSERT_TRUE(writeSyntheticLlama(options, vocab, dir.file("a.gguf")).ok());
  options.threads = 3;
  ASSERT_TRUE(writeSyntheticLlama(options, vocab, dir.file("b.gguf")).ok());
  options.seed = 2;
  ASSERT_TRUE(writeSyntheticLlama(options, vocab, dir.file("c.gguf")).ok());
  auto a = test::readBytes(dir.file("a.gguf"));
  EXPECT_TRUE(a == test::readBytes(dir.file("b.gguf")));
  EXPECT_FALSE(a == test::readBytes(dir.file("c.gguf")));
}

TEST(Synth, PresetsAndErrors) {
  const LlamaShape *tinyllama = findLlamaPreset("tinyllama-1.1b");
  ASSERT_NE(tinyllama, nullptr);
  EXPECT_EQ(tinyllama->embeddingLength, 2048u);
  EXPECT_EQ(tinyllama->blockCount, 22u);
  EXPECT_EQ(tinyllama->headCountKv, 4u);
  EXPECT_EQ(tinyllama->feedForwardLength, 5632u);
  ASSERT_NE(findLlamaPreset("llama-7b"), nullptr);
  EXPECT_EQ(findLlamaPreset("gpt-5"), nullptr);

  // A vocabulary of the wrong size for the preset is refused by name.
  test::TempDir dir;
  auto gpt2Vocab =
      GgufFile::open(test::sharedFile("vocab/ggml-vocab-gpt-2.gguf"));
  ASSERT_TRUE(gpt2Vocab.ok());
  SynthOptions options;
  options.shape = tinyllama;
  Status refused =
      writeSyntheticLlama(options, *gpt2Vocab, dir.file("x.gguf"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("needs a 32000-token vocabulary"),
            std::string::npos)
      << refused.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));

  options.type = GgmlType::Q6_K;
  options.shape = findLlamaPreset("tiny");
  EXPECT_FALSE(writeSyntheticLlama(options, *gpt2Vocab, dir.file("y.gguf")).ok());
}

} // namespace
} // namespace kiln
