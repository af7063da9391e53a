// A small synthetic Hugging Face decoder checkpoint (config.json,
// tokenizer.json, model.safetensors with seeded random weights) for the
// architectures the shared models do not cover: Qwen2 (q/k/v biases, NeoX
// rope) and SmolLM-like Llamas (GQA). Used by the converter tests and, once
// converted, by the compiler tests.
#pragma once

#include "ConvertTestUtil.h"
#include "tokenizer/ByteLevel.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace kiln::test {

namespace fs = std::filesystem;

constexpr int64_t kEmbd = 64, kFf = 128, kHeads = 4, kKvHeads = 2, kHeadDim = 16;
constexpr int64_t kLayers = 2;

inline std::vector<float> randomValues(size_t count, uint32_t seed) {
  std::vector<float> values(count);
  for (float &value : values) {
    seed = seed * 1664525u + 1013904223u;
    value = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return values;
}

inline std::vector<uint8_t> asBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A byte-level BPE tokenizer.json: the 256 byte tokens, merges "Ġ t",
// "h e", and one added special token at the end.
inline nlohmann::json tokenizerJson(const nlohmann::json &preTokenizer, int64_t &vocab) {
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

// Qwen2's tokenizer.json pre-tokenizer: its split regex, then byte level.
inline nlohmann::json qwen2PreTokenizer() {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern",
              {{"Regex",
                R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
             {"behavior", "Isolated"}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
}

inline Synthetic writeDecoder(const fs::path &dir, const std::string &arch, bool biases,
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

} // namespace kiln::test
