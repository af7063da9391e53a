// Block formats against llama.cpp: our dequantizers recover the f32 model
// from llama.cpp's quantized files within each format's error, and our
// quantizers reproduce llama.cpp's bytes exactly.
#include "gguf/GgufFile.h"
#include "quant/Dequantize.h"
#include "quant/NonLinearQuantize.h"
#include "quant/Quantize.h"
#include "support/Half.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace kiln {
namespace {

const char *kDir = "tinyshakes-llama/";

GgufFile openShared(const std::string &name) {
  auto file = GgufFile::open(test::sharedFile(kDir + name));
  EXPECT_TRUE(file.ok()) << file.error().message;
  return std::move(file).value();
}

std::vector<float> floatsOf(const GgufFile &file, const GgufTensorInfo &t) {
  std::vector<float> values(t.elementCount);
  Status done = dequantize(t.type, file.tensorData(t), values);
  EXPECT_TRUE(done.ok()) << done.message();
  return values;
}

// Error allowed per element: one quantization step of the block (or
// super-block), where a step is the block's range over the format's levels.
struct FormatError {
  int group;         // elements sharing one scale search
  bool symmetric;    // range is max|x| (else max - min)
  double levels;     // steps across the range
  double maxRelRmse; // RMS error over RMS of the weights
  double minStep = 0; // absolute floor (f16 subnormals)
};

FormatError formatError(GgmlType type) {
  switch (type) {
  case GgmlType::Q8_0: return {32, true, 127, 0.01};
  case GgmlType::Q4_0: return {32, true, 8, 0.12};
  case GgmlType::Q4_1: return {32, false, 15, 0.10};
  case GgmlType::Q5_0: return {32, true, 16, 0.06};
  case GgmlType::Q5_1: return {32, false, 31, 0.05};
  case GgmlType::Q2_K: return {256, false, 3, 0.45};
  case GgmlType::Q3_K: return {256, true, 4, 0.25};
  case GgmlType::Q4_K: return {256, false, 15, 0.10};
  case GgmlType::Q5_K: return {256, false, 31, 0.05};
  case GgmlType::Q6_K: return {256, true, 32, 0.03};
  case GgmlType::F16: return {1, true, 1024, 0.001, 0x1p-24};
  default: return {1, true, 1, 0.0};
  }
}

void expectWithinFormatError(const std::string &fileName,
                             std::vector<GgmlType> mustSee) {
  GgufFile reference = openShared("tinyshakes-llama-f32.gguf");
  GgufFile quantized = openShared(fileName);
  std::vector<GgmlType> seen;
  for (const GgufTensorInfo &tensor : quantized.tensors()) {
    if (tensor.type == GgmlType::F32)
      continue;
    SCOPED_TRACE(fileName + " " + tensor.name + " " +
                 std::string(ggmlTypeInfo(tensor.type).name));
    const GgufTensorInfo *original = reference.findTensor(tensor.name);
    ASSERT_NE(original, nullptr);
    std::vector<float> expected = floatsOf(reference, *original);
    std::vector<float> actual = floatsOf(quantized, tensor);
    ASSERT_EQ(expected.size(), actual.size());

    FormatError bound = formatError(tensor.type);
    ASSERT_GT(bound.levels, 1.0) << "no error model for this type";
    double sumErr2 = 0, sumX2 = 0, worstRatio = 0;
    for (size_t g = 0; g < expected.size(); g += bound.group) {
      auto begin = expected.begin() + g, end = begin + bound.group;
      auto [lo, hi] = std::minmax_element(begin, end);
      double range = bound.symmetric
                         ? std::max(std::fabs(*lo), std::fabs(*hi))
                         : *hi - *lo;
      double step = std::max(range / bound.levels, bound.minStep);
      for (size_t i = g; i < g + bound.group; ++i) {
        double err = std::fabs(double(actual[i]) - expected[i]);
        sumErr2 += err * err;
        sumX2 += double(expected[i]) * expected[i];
        if (step > 0)
          worstRatio = std::max(worstRatio, err / step);
        else
          ASSERT_EQ(actual[i], 0.0f);
      }
    }
    double relRmse = std::sqrt(sumErr2 / sumX2);
    // One step, plus what rounding the block scale to f16 (2^-11 relative)
    // adds at the largest quant: the clamped extreme of Q4_0/Q5_0 is a full
    // step off before that rounding.
    EXPECT_LE(worstRatio, 1.0 + bound.levels * 0x1p-11)
        << "an element is off by more than one step";
    EXPECT_LE(relRmse, bound.maxRelRmse);
    ::testing::Test::RecordProperty(tensor.name + "_rel_rmse", std::to_string(relRmse));
    if (std::find(seen.begin(), seen.end(), tensor.type) == seen.end())
      seen.push_back(tensor.type);
  }
  for (GgmlType type : mustSee)
    EXPECT_NE(std::find(seen.begin(), seen.end(), type), seen.end())
        << fileName << " has no " << ggmlTypeInfo(type).name << " tensor";
}

TEST(Dequantize, Q8_0FileMatchesF32) {
  expectWithinFormatError("tinyshakes-llama-q8_0.gguf", {GgmlType::Q8_0});
}
TEST(Dequantize, Q4_0FileMatchesF32) {
  expectWithinFormatError("tinyshakes-llama-q4_0.gguf",
                          {GgmlType::Q4_0, GgmlType::Q6_K});
}
TEST(Dequantize, Q4_1Q5_0Q5_1FilesMatchF32) {
  expectWithinFormatError("tinyshakes-llama-q4_1.gguf", {GgmlType::Q4_1});
  expectWithinFormatError("tinyshakes-llama-q5_0.gguf", {GgmlType::Q5_0});
  expectWithinFormatError("tinyshakes-llama-q5_1.gguf", {GgmlType::Q5_1});
}
TEST(Dequantize, KQuantFilesMatchF32) {
  expectWithinFormatError("tinyshakes-llama-q4_k_m.gguf",
                          {GgmlType::Q4_K, GgmlType::Q6_K});
  expectWithinFormatError("tinyshakes-llama-q6_k.gguf", {GgmlType::Q6_K});
  expectWithinFormatError("tinyshakes-llama-q5_k_m.gguf", {GgmlType::Q5_K});
  expectWithinFormatError("tinyshakes-llama-q3_k_m.gguf", {GgmlType::Q3_K});
  expectWithinFormatError("tinyshakes-llama-q2_k.gguf", {GgmlType::Q2_K});
}

TEST(Dequantize, F16FileMatchesF32) {
  expectWithinFormatError("tinyshakes-llama-f16.gguf", {});
}

// Quantizing the f32 model gives exactly llama-quantize's bytes, tensor by
// tensor, for every tensor llama.cpp stored in `type`.
void expectSameBytesAsLlamaCpp(const std::string &fileName, GgmlType type,
                               size_t minTensors) {
  GgufFile reference = openShared("tinyshakes-llama-f32.gguf");
  GgufFile theirs = openShared(fileName);
  size_t compared = 0;
  for (const GgufTensorInfo &tensor : theirs.tensors()) {
    if (tensor.type != type)
      continue;
    SCOPED_TRACE(fileName + " " + tensor.name);
    const GgufTensorInfo *original = reference.findTensor(tensor.name);
    ASSERT_NE(original, nullptr);
    std::vector<float> values = floatsOf(reference, *original);
    std::vector<uint8_t> ours(tensor.byteSize);
    Status done = quantize(type, values, ours);
    ASSERT_TRUE(done.ok()) << done.message();
    auto expected = theirs.tensorData(tensor);
    auto mismatch = std::mismatch(ours.begin(), ours.end(), expected.begin());
    EXPECT_TRUE(mismatch.first == ours.end())
        << "first differing byte at " << (mismatch.first - ours.begin());
    ++compared;
  }
  EXPECT_GE(compared, minTensors) << "too few " << ggmlTypeInfo(type).name
                                  << " tensors in " << fileName;
}

TEST(Quantize, Q8_0IsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q8_0.gguf", GgmlType::Q8_0, 30);
}
TEST(Quantize, Q4_0IsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q4_0.gguf", GgmlType::Q4_0, 29);
}
TEST(Quantize, Q4_1Q5_0Q5_1AreByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q4_1.gguf", GgmlType::Q4_1, 20);
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q5_0.gguf", GgmlType::Q5_0, 20);
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q5_1.gguf", GgmlType::Q5_1, 20);
}
// K-quants: every tensor of each type that llama-quantize wrote, whichever
// recipe file holds it (q2_k has q3_K mixed in, q4_k_m has q6_K...).
TEST(Quantize, Q2_KIsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q2_k.gguf", GgmlType::Q2_K, 16);
}
TEST(Quantize, Q3_KIsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q3_k_m.gguf", GgmlType::Q3_K, 8);
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q2_k.gguf", GgmlType::Q3_K, 8);
}
TEST(Quantize, Q4_KIsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q4_k_m.gguf", GgmlType::Q4_K, 16);
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q3_k_m.gguf", GgmlType::Q4_K, 4);
}
TEST(Quantize, Q5_KIsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q5_k_m.gguf", GgmlType::Q5_K, 16);
}
TEST(Quantize, Q6_KIsByteExactWithLlamaCpp) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q6_k.gguf", GgmlType::Q6_K, 30);
  expectSameBytesAsLlamaCpp("tinyshakes-llama-q4_k_m.gguf", GgmlType::Q6_K, 3);
}
TEST(Quantize, F16IsByteExactWithTheConverter) {
  expectSameBytesAsLlamaCpp("tinyshakes-llama-f16.gguf", GgmlType::F16, 30);
}

// Half a quantization step of a 32-element block whose largest magnitude is
// amax (a full step for the clamped extreme of Q4_0/Q5_0), plus what the
// rounding of the scales to f16 can add (up to 127 * 2^-11 of a step for
// Q8_0); half an ulp for the float formats.
double allowedError(GgmlType type, float x, float amax) {
  switch (type) {
  case GgmlType::F16: return std::fabs(x) * 0x1p-11 + 0x1p-25;
  case GgmlType::BF16: return std::fabs(x) * 0x1p-8;
  case GgmlType::Q8_0: return 0.6 * amax / 127.0;
  case GgmlType::Q4_0: return 1.01 * amax / 8.0;
  case GgmlType::Q4_1: return 1.05 * amax / 15.0;
  case GgmlType::Q5_0: return 1.01 * amax / 16.0;
  case GgmlType::Q5_1: return 1.05 * amax / 31.0;
  default: return 0.0;
  }
}

TEST(Quantize, RoundTripOfRandomDataStaysWithinOneStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(4096);
  for (float &v : values)
    v = normal(rng);
  values[5] = 0.0f;
  std::fill(values.begin() + 64, values.begin() + 96, 0.0f); // all-zero block
  for (GgmlType type : {GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0,
                        GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                        GgmlType::Q5_1}) {
    const GgmlTypeInfo &info = ggmlTypeInfo(type);
    SCOPED_TRACE(info.name);
    std::vector<uint8_t> packed(values.size() / info.blockSize *
                                info.bytesPerBlock);
    ASSERT_TRUE(quantize(type, values, packed).ok());
    std::vector<float> back(values.size());
    ASSERT_TRUE(dequantize(type, packed, back).ok());
    for (size_t g = 0; g < values.size(); g += 32) {
      float amax = 0;
      for (size_t i = g; i < g + 32; ++i)
        amax = std::max(amax, std::fabs(values[i]));
      for (size_t i = g; i < g + 32; ++i)
        ASSERT_LE(std::fabs(back[i] - values[i]),
                  allowedError(type, values[i], amax))
            << "element " << i;
    }
  }
}

// iq4_nl (llama.cpp's fallback for q2_K/q3_K) has no llama.cpp file among
// the shared models: its bytes were checked against libggml-base while it
// was written; here, its meaning: d * level[index] within half a level gap.
TEST(Quantize, Iq4NlRoundTripsWithinHalfALevelGap) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(1024);
  for (float &v : values)
    v = normal(rng);
  std::fill(values.begin() + 32, values.begin() + 64, 0.0f);
  std::vector<uint8_t> packed(values.size() / 32 * 18);
  ASSERT_TRUE(quantize(GgmlType::IQ4_NL, values, packed).ok());
  for (size_t b = 0; b < values.size() / 32; ++b) {
    const uint8_t *block = packed.data() + 18 * b;
    float d = halfToFloat(static_cast<uint16_t>(block[0] | (block[1] << 8)));
    if (b == 1) { // all zero: scale 0, every index on the level nearest 0
      EXPECT_EQ(d, 0.0f);
      for (int j = 2; j < 18; ++j)
        EXPECT_EQ(block[j], 0x88);
      continue;
    }
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(values[32 * b + j]));
    for (int j = 0; j < 32; ++j) {
      int index = j < 16 ? block[2 + j] & 0x0f : block[2 + j - 16] >> 4;
      float back = d * kquant::kIq4NlLevels[index];
      // The widest gap between levels is 24 of 127 * |d| ~ amax.
      EXPECT_LE(std::fabs(back - values[32 * b + j]), 0.12f * amax)
          << "block " << b << " element " << j;
    }
  }
}

TEST(Quantize, RejectsWrongSizes) {
  std::vector<float> values(33);
  std::vector<uint8_t> out(34);
  Status partial = quantize(GgmlType::Q8_0, values, out);
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.message().find("whole number of blocks"), std::string::npos);
  Status unsupported =
      quantize(GgmlType::IQ2_XXS, std::span<const float>(values.data(), 32), out);
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.message().find("not supported"), std::string::npos);
  std::vector<float> back(32);
  EXPECT_FALSE(dequantize(GgmlType::Q8_0, std::span<const uint8_t>(out.data(), 33),
                          back)
                   .ok());
  EXPECT_FALSE(dequantize(GgmlType::IQ2_XXS, out, back).ok());
}

} // namespace
} // namespace kiln
