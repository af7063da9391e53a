// kiln convert on small synthetic checkpoints of the architectures the
// shared models do not cover: Qwen2 (biases, no rope permutation, tied
// output, tokenizer.json BPE) and a SmolLM-like Llama (GQA, tied output,
// tokenizer.json with a Digits + ByteLevel pre-tokenizer). The output must
// load as a ModelSpec and a Tokenizer, and its tensors must be the source's
// values rearranged as llama.cpp rearranges them.
#include "ConvertTestUtil.h"
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

constexpr int64_t kEmbd = 64, kFf = 128, kHeads = 4, kKvHeads = 2, kHeadDim = 16;
constexpr int64_t kLayers = 2;

std::vector<float> randomValues(size_t count, uint32_t seed) {
  std::vector<float> values(count);
  for (float &value : values) {
    seed = seed * 1664525u + 1013904223u;
    value = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return values;
}

std::vector<uint8_t> asBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A byte-level BPE tokenizer.json: the 256 byte tokens, merges "Ġ t",
// "h e", and one added special token at the end.
nlohmann::json tokenizerJson(const nlohmann::json &preTokenizer, int64_t &vocab) {
  nlohmann::json tokens = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte)
    tokens[std::string(bytelevel::utf8ForByte(static_cast<uint8_t>(byte)))] = byte;
  tokens["\xc4\xa0t"] = 256;
  tokens["he"] = 257;
  vocab = 259;
  return {{"version", "1.0"},
          {"added_tokens",
           {{{"id", 258}, {"content", "<|endoftext|>"}, {"special", true},
             {"normalized", false}}}},
          {"pre_tokenizer", preTokenizer},
          {"model",
           {{"type", "BPE"},
            {"vocab", tokens},
            // Pairs (the format since transformers 4.45); written as
            // nested arrays, which a braced list of pairs would not give.
            {"merges", nlohmann::json::array({nlohmann::json::array({"\xc4\xa0", "t"}),
                                              nlohmann::json::array({"h", "e"})})}}}};
}

struct Synthetic {
  std::map<std::string, std::vector<float>> values;
  std::map<std::string, std::vector<int64_t>> shapes;
};

Synthetic writeDecoder(const fs::path &dir, const std::string &arch, bool biases,
                       const nlohmann::json &preTokenizer) {
  fs::create_directories(dir);
  int64_t vocab = 0;
  std::ofstream(dir / "tokenizer.json") << tokenizerJson(preTokenizer, vocab).dump();
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"eos_token": "<|endoftext|>", "bos_token": null, "add_bos_token": false})";
  nlohmann::json config = {{"architectures", {arch}},
                           {"hidden_size", kEmbd},
                           {"intermediate_size", kFf},
                           {"num_hidden_layers", kLayers},
                           {"num_attention_heads", kHeads},
                           {"num_key_value_heads", kKvHeads},
                           {"vocab_size", vocab},
                           {"max_position_embeddings", 128},
                           {"rms_norm_eps", 1e-6},
                           {"rope_theta", 1000000.0},
                           {"tie_word_embeddings", true},
                           {"eos_token_id", 258}};
  std::ofstream(dir / "config.json") << config.dump();

  Synthetic model;
  uint32_t seed = 1;
  auto add = [&](const std::string &name, std::vector<int64_t> shape) {
    size_t count = 1;
    for (int64_t dim : shape)
      count *= static_cast<size_t>(dim);
    model.values[name] = randomValues(count, seed++);
    model.shapes[name] = shape;
  };
  add("model.embed_tokens.weight", {vocab, kEmbd});
  for (int64_t i = 0; i < kLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "self_attn.q_proj.weight", {kHeads * kHeadDim, kEmbd});
    add(p + "self_attn.k_proj.weight", {kKvHeads * kHeadDim, kEmbd});
    add(p + "self_attn.v_proj.weight", {kKvHeads * kHeadDim, kEmbd});
    if (biases) {
      add(p + "self_attn.q_proj.bias", {kHeads * kHeadDim});
      add(p + "self_attn.k_proj.bias", {kKvHeads * kHeadDim});
      add(p + "self_attn.v_proj.bias", {kKvHeads * kHeadDim});
    }
    add(p + "self_attn.o_proj.weight", {kEmbd, kHeads * kHeadDim});
    add(p + "mlp.gate_proj.weight", {kFf, kEmbd});
    add(p + "mlp.up_proj.weight", {kFf, kEmbd});
    add(p + "mlp.down_proj.weight", {kEmbd, kFf});
    add(p + "input_layernorm.weight", {kEmbd});
    add(p + "post_attention_layernorm.weight", {kEmbd});
    add(p + "self_attn.rotary_emb.inv_freq", {kHeadDim / 2}); // ignored
  }
  add("model.norm.weight", {kEmbd});
  std::vector<SafetensorsEntry> entries;
  for (const auto &[name, values] : model.values) // sorted, like HF's writer
    entries.push_back({name, "F32", model.shapes[name], asBytes(values)});
  writeFile((dir / "model.safetensors").string(), safetensorsBytes(entries));
  return model;
}

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
  nlohmann::json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
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

} // namespace
} // namespace kiln::test
