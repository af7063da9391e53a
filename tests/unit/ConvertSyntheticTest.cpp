// kiln convert on small synthetic checkpoints of the architectures the
// shared models do not cover: Qwen2 (biases, no rope permutation, tied
// output, tokenizer.json BPE) and a SmolLM-like Llama (GQA, tied output,
// tokenizer.json with a Digits + ByteLevel pre-tokenizer). The output must
// load as a ModelSpec and a Tokenizer, and its tensors must be the source's
// values rearranged as llama.cpp rearranges them.
#include "ConvertTestUtil.h"
#include "SyntheticDecoder.h"
#include "TestData.h"

#include "convert/Converter.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "tokenizer/ByteLevel.h"
#include "tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <map>

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

std::vector<float> tensorValues(const GgufFile &file, const std::string &name) {
  const GgufTensorInfo *info = file.findTensor(name);
  EXPECT_NE(info, nullptr) << name;
  if (!info || info->type != GgmlType::F32)
    return {};
  std::vector<float> values(info->elementCount);
  std::memcpy(values.data(), file.tensorData(*info).data(), info->byteSize);
  return values;
}

// Row r of GGUF's rope layout holds HF row (h, i, j) with r = (h, j, i).
std::vector<float> permuteRows(const std::vector<float> &hf, int64_t heads,
                               int64_t cols) {
  std::vector<float> out(hf.size());
  const int64_t half = kHeadDim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < half; ++j)
        for (int64_t c = 0; c < cols; ++c)
          out[static_cast<size_t>(((h * kHeadDim) + j * 2 + i) * cols + c)] =
              hf[static_cast<size_t>(((h * kHeadDim) + i * half + j) * cols + c)];
  return out;
}

GgufFile convertAndOpen(const fs::path &dir, const std::string &out) {
  convert::ConvertOptions options;
  options.modelDir = dir.string();
  options.output = out;
  options.outType = "f32";
  auto summary = convert::convertModel(options);
  EXPECT_TRUE(summary.ok()) << (summary.ok() ? "" : summary.error().message);
  auto file = GgufFile::open(out);
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message);
  return std::move(file).value();
}

TEST(ConvertSynthetic, Qwen2KeepsRowsAddsBiasesAndTiesTheOutput) {
  TempDir tmp;
  nlohmann::json pre = test::qwen2PreTokenizer();
  Synthetic model = writeDecoder(tmp.path() / "qwen", "Qwen2ForCausalLM", true, pre);
  GgufFile file = convertAndOpen(tmp.path() / "qwen", tmp.file("qwen.gguf"));

  auto spec = ModelSpec::fromGguf(file);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->architecture, "qwen2");
  EXPECT_EQ(spec->ropeMode, RopeMode::Neox);
  EXPECT_TRUE(spec->tiedOutput);
  EXPECT_EQ(spec->headCountKv, 2u);
  ASSERT_TRUE(spec->layers[1].bk.has_value());
  EXPECT_EQ(*file.metadata().getString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(*file.metadata().getUInt("tokenizer.ggml.eos_token_id"), 258u);
  EXPECT_FLOAT_EQ(static_cast<float>(*file.metadata().getFloat("qwen2.rope.freq_base")), 1e6f);
  EXPECT_FALSE(file.metadata().contains("qwen2.rope.dimension_count"));
  // NeoX rope: no permutation.
  EXPECT_EQ(tensorValues(file, "blk.1.attn_q.weight"),
            model.values["model.layers.1.self_attn.q_proj.weight"]);
  EXPECT_EQ(tensorValues(file, "blk.0.attn_k.bias"),
            model.values["model.layers.0.self_attn.k_proj.bias"]);
  EXPECT_EQ(file.findTensor("output.weight"), nullptr);

  auto tokenizer = Tokenizer::fromMetadata(file.metadata());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  auto ids = tokenizer->encode(" the", {.addSpecial = false});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{256, 257})); // "Ġt" "he"
}

TEST(ConvertSynthetic, LlamaWithGqaPermutesQAndKPerTheirHeads) {
  TempDir tmp;
  nlohmann::json pre = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Digits"}, {"individual_digits", true}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
  Synthetic model = writeDecoder(tmp.path() / "smol", "LlamaForCausalLM", false, pre);
  GgufFile file = convertAndOpen(tmp.path() / "smol", tmp.file("smol.gguf"));

  auto spec = ModelSpec::fromGguf(file);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->ropeMode, RopeMode::Normal);
  EXPECT_TRUE(spec->tiedOutput);
  EXPECT_EQ(*file.metadata().getString("tokenizer.ggml.pre"), "smollm");
  EXPECT_EQ(*file.metadata().getUInt("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(tensorValues(file, "blk.0.attn_q.weight"),
            permuteRows(model.values["model.layers.0.self_attn.q_proj.weight"], kHeads, kEmbd));
  EXPECT_EQ(tensorValues(file, "blk.1.attn_k.weight"),
            permuteRows(model.values["model.layers.1.self_attn.k_proj.weight"], kKvHeads, kEmbd));
  EXPECT_EQ(tensorValues(file, "blk.1.attn_v.weight"),
            model.values["model.layers.1.self_attn.v_proj.weight"]);
  // Tensors in Hugging Face's module order, not the checkpoint's sorted one.
  EXPECT_EQ(file.tensors()[0].name, "token_embd.weight");
  EXPECT_EQ(file.tensors()[1].name, "blk.0.attn_q.weight");
  EXPECT_EQ(file.tensors().back().name, "output_norm.weight");
  auto tokenizer = Tokenizer::fromMetadata(file.metadata());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
}

TEST(ConvertSynthetic, UnknownPreTokenizerAsksForVocabPre) {
  TempDir tmp;
  nlohmann::json pre = {{"type", "Whitespace"}};
  writeDecoder(tmp.path() / "m", "LlamaForCausalLM", false, pre);
  convert::ConvertOptions options;
  options.modelDir = (tmp.path() / "m").string();
  options.output = tmp.file("m.gguf");
  auto result = convert::convertModel(options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("--vocab-pre"), std::string::npos)
      << result.error().message;
  options.vocabPre = "gpt-2";
  auto named = convert::convertModel(options);
  ASSERT_TRUE(named.ok()) << named.error().message;
  auto file = GgufFile::open(options.output);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file->metadata().getString("tokenizer.ggml.pre"), "gpt-2");
}

// A feature llama.cpp's converter writes and kiln's loader does not run yet
// (Qwen2 yarn rope scaling) converts as llama.cpp would, and the summary
// says kiln's loader refuses it, with the loader's reason.
TEST(ConvertSynthetic, FileKilnCannotRunYetIsSaidAtConvertTime) {
  TempDir tmp;
  fs::path dir = tmp.path() / "qwen";
  writeDecoder(dir, "Qwen2ForCausalLM", true, qwen2PreTokenizer());
  auto bytes = readBytes((dir / "config.json").string());
  auto config = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  config["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0},
                            {"original_max_position_embeddings", 32}};
  std::ofstream(dir / "config.json") << config.dump();
  convert::ConvertOptions options;
  options.modelDir = dir.string();
  options.output = tmp.file("yarn.gguf");
  options.outType = "f32";
  auto summary = convert::convertModel(options);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_NE(summary->notRunnable.find("rope.scaling.type 'yarn' is not supported"),
            std::string::npos)
      << summary->notRunnable;
  // The plain checkpoint is runnable: nothing to say.
  writeDecoder(tmp.path() / "plain", "Qwen2ForCausalLM", true, qwen2PreTokenizer());
  options.modelDir = (tmp.path() / "plain").string();
  options.output = tmp.file("plain.gguf");
  auto plain = convert::convertModel(options);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->notRunnable, "");
}

// -o onto any file of the checkpoint (read or not, by any path form) is
// refused and leaves it as it was.
TEST(ConvertSynthetic, OutputThatIsACheckpointFileIsRefused) {
  TempDir tmp;
  fs::path dir = tmp.path() / "m";
  writeDecoder(dir, "Qwen2ForCausalLM", true, qwen2PreTokenizer());
  // Shards named by an index may be called anything; a PyTorch file beside
  // the safetensors is not read, yet is the user's.
  fs::rename(dir / "model.safetensors", dir / "weights-part.safetensors");
  auto shard = readBytes((dir / "weights-part.safetensors").string());
  auto header = nlohmann::json::parse(
      std::string(shard.begin() + 8, shard.begin() + 8 + *reinterpret_cast<uint64_t *>(shard.data())));
  nlohmann::json map = nlohmann::json::object();
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key() != "__metadata__")
      map[it.key()] = "weights-part.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"weight_map", map}}.dump();
  std::ofstream(dir / "pytorch_model.bin") << "not read";
  fs::create_symlink(dir / "config.json", tmp.path() / "link.json");

  convert::ConvertOptions options;
  options.modelDir = dir.string();
  std::vector<std::string> outputs;
  for (const auto &entry : fs::directory_iterator(dir))
    outputs.push_back((dir / "." / entry.path().filename()).string());
  outputs.push_back(tmp.file("link.json"));
  for (const std::string &output : outputs) {
    auto before = readBytes(output);
    options.output = output;
    auto result = convert::convertModel(options);
    ASSERT_FALSE(result.ok()) << output;
    EXPECT_NE(result.error().message.find(output + ": is the input "), std::string::npos)
        << result.error().message;
    EXPECT_EQ(readBytes(output), before) << output;
  }
  options.output = (dir / "out.gguf").string();
  auto written = convert::convertModel(options);
  EXPECT_TRUE(written.ok()) << written.error().message;
}

} // namespace
} // namespace kiln::test
