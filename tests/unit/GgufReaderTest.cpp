#include "gguf/GgufFile.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln {
namespace {

using test::sharedFile;

TEST(GgufReader, ReadsEverySharedFile) {
  auto files = test::allSharedGgufFiles();
  ASSERT_GE(files.size(), 20u) << "shared models not found";
  for (const std::string &path : files) {
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_TRUE(file->version() == 2 || file->version() == 3) << path;
    EXPECT_TRUE(file->metadata().contains("general.architecture")) << path;
  }
}

TEST(GgufReader, TinyshakesLlamaF32) {
  auto file = GgufFile::open(
      sharedFile("tinyshakes-llama/tinyshakes-llama-f32.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufMetadata &meta = file->metadata();
  EXPECT_EQ(*meta.getString("general.architecture"), "llama");
  EXPECT_EQ(*meta.getUInt("llama.embedding_length"), 256u);
  EXPECT_EQ(*meta.getUInt("llama.block_count"), 4u);
  EXPECT_EQ(*meta.getUInt("llama.feed_forward_length"), 768u);
  EXPECT_EQ(*meta.getUInt("llama.attention.head_count"), 8u);
  EXPECT_NEAR(*meta.getFloat("llama.attention.layer_norm_rms_epsilon"), 1e-5,
              1e-12);
  auto tokens = meta.getArrayOf<std::string>("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 1000u);
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[13], "<0x0A>");
  auto scores = meta.getArrayOf<float>("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ(scores->size(), 1000u);

  ASSERT_EQ(file->tensors().size(), 39u);
  const GgufTensorInfo *embd = file->findTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, GgmlType::F32);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{256, 1000}));
  EXPECT_EQ(embd->byteSize, 256u * 1000u * 4u);
  EXPECT_EQ(file->tensorData(*embd).size(), embd->byteSize);
  EXPECT_EQ(file->findTensor("nope"), nullptr);
}

TEST(GgufReader, TensorTypesOfTheQuantizedFiles) {
  // The counts recorded in ../shared/models/tinyshakes-llama/README.md.
  auto q4 = GgufFile::open(
      sharedFile("tinyshakes-llama/tinyshakes-llama-q4_0.gguf"));
  ASSERT_TRUE(q4.ok()) << q4.error().message;
  std::map<GgmlType, int> counts;
  for (const GgufTensorInfo &tensor : q4->tensors())
    ++counts[tensor.type];
  EXPECT_EQ(counts[GgmlType::Q4_0], 29);
  EXPECT_EQ(counts[GgmlType::Q6_K], 1);
  EXPECT_EQ(counts[GgmlType::F32], 9);
  EXPECT_EQ(q4->findTensor("output.weight")->type, GgmlType::Q6_K);
}

TEST(GgufReader, TypedAccessorsNameKeyAndProblem) {
  auto file = GgufFile::open(
      sharedFile("tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  ASSERT_TRUE(file.ok());
  const GgufMetadata &meta = file->metadata();
  auto missing = meta.getUInt("llama.no_such_key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("'llama.no_such_key' is missing"),
            std::string::npos);
  EXPECT_NE(missing.error().message.find("tinyshakes-llama-q8_0.gguf"),
            std::string::npos);
  auto wrong = meta.getString("llama.block_count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("expected a string, found uint32"),
            std::string::npos)
      << wrong.error().message;
  auto wrongArray = meta.getArrayOf<float>("tokenizer.ggml.tokens");
  ASSERT_FALSE(wrongArray.ok());
  EXPECT_NE(wrongArray.error().message.find("array of string"),
            std::string::npos)
      << wrongArray.error().message;
}

TEST(GgufReader, ForeignFileWithLargeVocabulary) {
  auto file =
      GgufFile::open(sharedFile("llama-2-tiny-random/llama-2-tiny-random.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tokens = file->metadata().getArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)->size(), 32000u);
  EXPECT_EQ(*file->metadata().getUInt("llama.embedding_length"), 8u);
}

TEST(GgufReader, MissingFileNamesThePath) {
  auto file = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("/nonexistent/model.gguf"),
            std::string::npos);
}

} // namespace
} // namespace kiln
