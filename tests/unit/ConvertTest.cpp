// kiln convert against llama.cpp's GGUFs of the shared checkpoints: the
// Llama files come out byte for byte (from safetensors, pytorch_model.bin
// and a sharded copy); GPT-2's tensors and vocabulary match, its metadata
// differs only where llama.cpp's converter and the reference writer do.
#include "ConvertTestUtil.h"
#include "TestData.h"

#include "convert/Converter.h"
#include "gguf/GgufFile.h"
#include "support/Half.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <set>

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

std::string convertOrFail(const std::string &dir, const std::string &out,
                          const std::string &outType, const std::string &name) {
  convert::ConvertOptions options;
  options.modelDir = dir;
  options.output = out;
  options.outType = outType;
  options.name = name;
  auto summary = convert::convertModel(options);
  EXPECT_TRUE(summary.ok()) << (summary.ok() ? "" : summary.error().message);
  return out;
}

// A copy of an HF folder (symlinks) without some of its files.
void linkFolder(const fs::path &from, const fs::path &to,
                const std::set<std::string> &leaveOut) {
  fs::create_directories(to);
  for (const auto &entry : fs::directory_iterator(from))
    if (!leaveOut.count(entry.path().filename().string()))
      fs::create_symlink(entry.path(), to / entry.path().filename());
}

void expectSameBytes(const std::string &ours, const std::string &theirs) {
  auto a = readBytes(ours), b = readBytes(theirs);
  ASSERT_EQ(a.size(), b.size()) << ours << " vs " << theirs;
  size_t firstDiff = 0;
  while (firstDiff < a.size() && a[firstDiff] == b[firstDiff])
    ++firstDiff;
  EXPECT_EQ(firstDiff, a.size()) << ours << " and " << theirs
                                 << " differ first at byte " << firstDiff;
}

GgufFile openOrFail(const std::string &path) {
  auto file = GgufFile::open(path);
  EXPECT_TRUE(file.ok()) << path;
  return std::move(file).value();
}

const std::string kLlama = "tinyshakes-llama/";
const std::string kGpt2 = "tinyshakes-gpt2/";

class ConvertLlama : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertLlama, SafetensorsGivesLlamaCppFileByteForByte) {
  TempDir dir;
  std::string type = GetParam();
  // llama.cpp named the model after the folder it converted.
  linkFolder(sharedFile(kLlama + "hf"), dir.path() / "tinyshakes-llama",
             {"pytorch_model.bin"});
  std::string out = convertOrFail((dir.path() / "tinyshakes-llama").string(),
                                  dir.file("out.gguf"), type, "");
  expectSameBytes(out, sharedFile(kLlama + "tinyshakes-llama-" + type + ".gguf"));
}

TEST_P(ConvertLlama, PytorchBinGivesLlamaCppFileByteForByte) {
  TempDir dir;
  std::string type = GetParam();
  linkFolder(sharedFile(kLlama + "hf"), dir.path() / "tinyshakes-llama",
             {"model.safetensors"});
  std::string out = convertOrFail((dir.path() / "tinyshakes-llama").string(),
                                  dir.file("out.gguf"), type, "");
  expectSameBytes(out, sharedFile(kLlama + "tinyshakes-llama-" + type + ".gguf"));
}

INSTANTIATE_TEST_SUITE_P(OutTypes, ConvertLlama, ::testing::Values("f32", "f16"));

// q8_0 straight from the checkpoint equals llama-quantize's q8_0 of the f32
// file, tensor by tensor (the files differ in tensor order and metadata).
class ConvertQ8 : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertQ8, TensorsEqualLlamaQuantize) {
  TempDir dir;
  std::string model = GetParam();
  std::string out = convertOrFail(sharedFile(model + "/hf"), dir.file("q8.gguf"),
                                  "q8_0", model);
  GgufFile ours = openOrFail(out);
  GgufFile theirs = openOrFail(sharedFile(model + "/" + model + "-q8_0.gguf"));
  ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (const GgufTensorInfo &tensor : ours.tensors()) {
    const GgufTensorInfo *other = theirs.findTensor(tensor.name);
    ASSERT_NE(other, nullptr) << tensor.name;
    EXPECT_EQ(tensor.type, other->type) << tensor.name;
    auto a = ours.tensorData(tensor), b = theirs.tensorData(*other);
    ASSERT_EQ(a.size(), b.size()) << tensor.name;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << tensor.name;
  }
  EXPECT_EQ(*ours.metadata().getUInt("general.file_type"), 7u);
}

INSTANTIATE_TEST_SUITE_P(Models, ConvertQ8,
                         ::testing::Values("tinyshakes-llama", "tinyshakes-gpt2"));

// bf16: every matrix is llama.cpp's f32 file rounded to bf16 (nearest
// even), everything else the same f32 bytes; general.file_type is 32.
TEST(Convert, LlamaBf16IsTheF32FileRounded) {
  TempDir dir;
  std::string out = convertOrFail(sharedFile(kLlama + "hf"), dir.file("bf16.gguf"),
                                  "bf16", "tinyshakes-llama");
  GgufFile ours = openOrFail(out);
  GgufFile f32 = openOrFail(sharedFile(kLlama + "tinyshakes-llama-f32.gguf"));
  EXPECT_EQ(*ours.metadata().getUInt("general.file_type"), 32u);
  size_t bf16Tensors = 0;
  for (const GgufTensorInfo &tensor : ours.tensors()) {
    const GgufTensorInfo *other = f32.findTensor(tensor.name);
    ASSERT_NE(other, nullptr) << tensor.name;
    auto a = ours.tensorData(tensor), b = f32.tensorData(*other);
    if (tensor.dims.size() == 1) {
      EXPECT_EQ(tensor.type, GgmlType::F32) << tensor.name;
      EXPECT_EQ(std::memcmp(a.data(), b.data(), b.size()), 0) << tensor.name;
      continue;
    }
    ASSERT_EQ(tensor.type, GgmlType::BF16) << tensor.name;
    ++bf16Tensors;
    for (size_t e = 0; e < tensor.elementCount; ++e) {
      float value;
      uint16_t rounded;
      std::memcpy(&value, b.data() + 4 * e, 4);
      std::memcpy(&rounded, a.data() + 2 * e, 2);
      ASSERT_EQ(rounded, floatToBf16(value)) << tensor.name << " element " << e;
    }
  }
  EXPECT_EQ(bf16Tensors, 30u);
}

// The weights split over two safetensors shards with an index give the
// same file as the single one.
TEST(Convert, ShardedSafetensorsGiveTheSameFile) {
  TempDir dir;
  fs::path model = dir.path() / "tinyshakes-llama";
  linkFolder(sharedFile(kLlama + "hf"), model,
             {"model.safetensors", "pytorch_model.bin"});
  auto whole = readBytes(sharedFile(kLlama + "hf/model.safetensors"));
  uint64_t headerLength = 0;
  std::memcpy(&headerLength, whole.data(), 8);
  auto header = nlohmann::ordered_json::parse(whole.begin() + 8,
                                              whole.begin() + 8 + static_cast<long>(headerLength));
  std::vector<SafetensorsEntry> shards[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  size_t i = 0;
  for (auto it = header.begin(); it != header.end(); ++it, ++i) {
    if (it.key() == "__metadata__")
      continue;
    const auto &entry = it.value();
    size_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    auto data = whole.begin() + 8 + static_cast<long>(headerLength);
    SafetensorsEntry tensor{it.key(), entry["dtype"], entry["shape"].get<std::vector<int64_t>>(),
                            std::vector<uint8_t>(data + static_cast<long>(begin),
                                                 data + static_cast<long>(end))};
    int shard = i % 2;
    index["weight_map"][it.key()] = "model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors";
    shards[shard].push_back(std::move(tensor));
  }
  for (int shard = 0; shard < 2; ++shard)
    writeFile((model / ("model-0000" + std::to_string(shard + 1) +
                        "-of-00002.safetensors")).string(),
              safetensorsBytes(shards[shard]));
  std::ofstream(model / "model.safetensors.index.json") << index.dump();

  std::string out = convertOrFail(model.string(), dir.file("out.gguf"), "f32", "");
  expectSameBytes(out, sharedFile(kLlama + "tinyshakes-llama-f32.gguf"));

  // A shard that is gone, or a tensor the index names but no shard holds.
  fs::remove(model / "model-00002-of-00002.safetensors");
  convert::ConvertOptions options;
  options.modelDir = model.string();
  options.output = dir.file("bad.gguf");
  auto missing = convert::convertModel(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("shard 'model-00002-of-00002.safetensors' is missing"),
            std::string::npos) << missing.error().message;
  writeFile((model / "model-00002-of-00002.safetensors").string(),
            safetensorsBytes(std::vector<SafetensorsEntry>(shards[1].begin() + 1, shards[1].end())));
  auto incomplete = convert::convertModel(options);
  ASSERT_FALSE(incomplete.ok());
  EXPECT_NE(incomplete.error().message.find("in the weight map but in none of the shards"),
            std::string::npos) << incomplete.error().message;
  EXPECT_FALSE(fs::exists(options.output));
}

// pytorch_model.bin.index.json naming one shard: same file; an index that
// names a tensor no shard holds is refused.
TEST(Convert, IndexedPytorchShardGivesTheSameFile) {
  TempDir dir;
  fs::path model = dir.path() / "tinyshakes-llama";
  linkFolder(sharedFile(kLlama + "hf"), model,
             {"model.safetensors", "pytorch_model.bin"});
  fs::create_symlink(sharedFile(kLlama + "hf/pytorch_model.bin"),
                     model / "pytorch_model-00001-of-00001.bin");
  // The tensor names, from the safetensors header.
  auto whole = readBytes(sharedFile(kLlama + "hf/model.safetensors"));
  uint64_t headerLength = 0;
  std::memcpy(&headerLength, whole.data(), 8);
  auto header = nlohmann::json::parse(whole.begin() + 8,
                                      whole.begin() + 8 + static_cast<long>(headerLength));
  nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key() != "__metadata__")
      index["weight_map"][it.key()] = "pytorch_model-00001-of-00001.bin";
  std::ofstream(model / "pytorch_model.bin.index.json") << index.dump();
  std::string out = convertOrFail(model.string(), dir.file("out.gguf"), "f16", "");
  expectSameBytes(out, sharedFile(kLlama + "tinyshakes-llama-f16.gguf"));

  index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "pytorch_model-00001-of-00001.bin";
  std::ofstream(model / "pytorch_model.bin.index.json") << index.dump();
  convert::ConvertOptions options;
  options.modelDir = model.string();
  options.output = dir.file("bad.gguf");
  auto result = convert::convertModel(options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find(
                "tensor 'model.layers.9.mlp.up_proj.weight' is in the weight map"),
            std::string::npos) << result.error().message;
}

class ConvertGpt2 : public ::testing::TestWithParam<std::string> {};

// Every tensor and every tokenizer key equals the reference file's; the
// metadata differs in exactly two keys llama.cpp's converter adds
// (general.type, general.size_label) that the reference writer left out,
// and in f16 llama.cpp keeps position_embd in f32 where the reference
// rounded it to f16.
TEST_P(ConvertGpt2, TensorsAndVocabularyEqualTheReference) {
  TempDir dir;
  std::string type = GetParam();
  std::string out = convertOrFail(sharedFile(kGpt2 + "hf"), dir.file("out.gguf"),
                                  type, "tinyshakes-gpt2");
  GgufFile ours = openOrFail(out);
  GgufFile theirs = openOrFail(sharedFile(kGpt2 + "tinyshakes-gpt2-" + type + ".gguf"));

  std::set<std::string> onlyOurs;
  for (const auto &[key, value] : ours.metadata().entries()) {
    const GgufValue *other = theirs.metadata().find(key);
    if (!other)
      onlyOurs.insert(key);
    else
      EXPECT_EQ(value, *other) << key;
  }
  EXPECT_EQ(onlyOurs, (std::set<std::string>{"general.type", "general.size_label"}));
  EXPECT_EQ(ours.metadata().size(), theirs.metadata().size() + 2);

  ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (size_t i = 0; i < ours.tensors().size(); ++i) {
    const GgufTensorInfo &tensor = ours.tensors()[i];
    EXPECT_EQ(tensor.name, theirs.tensors()[i].name) << "tensor order";
    const GgufTensorInfo *other = theirs.findTensor(tensor.name);
    ASSERT_NE(other, nullptr) << tensor.name;
    EXPECT_EQ(tensor.dims, other->dims) << tensor.name;
    auto a = ours.tensorData(tensor), b = theirs.tensorData(*other);
    if (type == "f16" && tensor.name == "position_embd.weight") {
      ASSERT_EQ(tensor.type, GgmlType::F32);
      ASSERT_EQ(other->type, GgmlType::F16);
      for (size_t e = 0; e < tensor.elementCount; ++e) {
        float value;
        uint16_t half;
        std::memcpy(&value, a.data() + 4 * e, 4);
        std::memcpy(&half, b.data() + 2 * e, 2);
        ASSERT_EQ(floatToHalf(value), half) << "position_embd element " << e;
      }
      continue;
    }
    EXPECT_EQ(tensor.type, other->type) << tensor.name;
    ASSERT_EQ(a.size(), b.size()) << tensor.name;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << tensor.name;
  }
}

INSTANTIATE_TEST_SUITE_P(OutTypes, ConvertGpt2, ::testing::Values("f32", "f16"));

TEST(Convert, Gpt2PytorchBinEqualsSafetensors) {
  TempDir dir;
  linkFolder(sharedFile(kGpt2 + "hf"), dir.path() / "bin", {"model.safetensors"});
  std::string fromBin = convertOrFail((dir.path() / "bin").string(),
                                      dir.file("bin.gguf"), "f16", "x");
  std::string fromSt = convertOrFail(sharedFile(kGpt2 + "hf"), dir.file("st.gguf"),
                                     "f16", "x");
  expectSameBytes(fromBin, fromSt);
}

TEST(Convert, SizeLabelsAsLlamaCpp) {
  EXPECT_EQ(convert::sizeLabel(3922176), "3.9M");
  EXPECT_EQ(convert::sizeLabel(2212992), "2.2M");
  EXPECT_EQ(convert::sizeLabel(1100048384), "1.1B");
  EXPECT_EQ(convert::sizeLabel(134515008), "135M");
  EXPECT_EQ(convert::sizeLabel(6738415616), "6.7B");
  EXPECT_EQ(convert::sizeLabel(500), "0.50K");
  EXPECT_EQ(convert::sizeLabel(12000), "12K");
}

} // namespace
} // namespace kiln::test
