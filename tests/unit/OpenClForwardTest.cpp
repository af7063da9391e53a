// The OpenCL target end to end, against the CPU target on the same plan:
// greedy continuations must be the same 64 token ids, and the
// teacher-forced logits of a fixed sequence are compared element by
// element (max-abs difference and top-1 agreement are printed). The
// integer-dot matmuls sum in the CPU's order, so q8_0/q4_0 llama logits are
// bit-identical; the rest differ by float reordering (f32 1e-4 .. 1e-3,
// gpt2 q8_0 ~2e-2 through its GELU and norms). PoCL runs the OpenCL side
// on the CPU in CI.
#include "codegen/Compile.h"
#include "codegen/TargetRegistry.h"
#include "TargetRun.h"
#include "TestData.h"
#include "gguf/GgufFile.h"
#include "synth/SyntheticModel.h"

#ifdef KILN_HAVE_OPENCL
#include "runtime/opencl/OpenClContext.h"
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace kiln {
namespace {

bool openClBuilt() {
  auto names = codegen::builtTargetNames();
  return std::find(names.begin(), names.end(), "opencl") != names.end();
}

// Skips when kiln was built without OpenCL; a build with it but no device
// fails, since CI installs PoCL (KILN_ALLOW_NO_OPENCL_DEVICE=1 skips).
#define REQUIRE_OPENCL()                                                       \
  do {                                                                         \
    if (!openClBuilt())                                                        \
      GTEST_SKIP() << "kiln was built without OpenCL (no ICD loader/headers)"; \
    if (std::string why = openClMissing(); !why.empty()) {                     \
      if (std::getenv("KILN_ALLOW_NO_OPENCL_DEVICE"))                          \
        GTEST_SKIP() << why;                                                   \
      FAIL() << why;                                                           \
    }                                                                          \
  } while (0)

std::string openClMissing() {
#ifdef KILN_HAVE_OPENCL
  auto context = runtime::opencl::OpenClContext::open();
  return context ? std::string() : context.error().message;
#else
  return "no OpenCL";
#endif
}

struct ModelCase {
  std::string path;
  int greedyTokens;
  // The integer-dot matmuls sum in the CPU's order: these logits must be
  // the CPU's bit for bit.
  bool bitIdentical = false;
  // How ctest names the case (instead of the struct's bytes).
  friend void PrintTo(const ModelCase &c, std::ostream *os) { *os << c.path; }
};

class OpenClForward : public testing::TestWithParam<ModelCase> {};

void compareTargets(const std::string &path, int greedyTokens,
                    const codegen::LowerOptions &lower = {}, bool bitIdentical = false) {
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto spec = ModelSpec::fromGguf(*file);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  std::vector<int32_t> sequence = fixedSequence(spec->vocabSize, 48);
  TargetRun cpu = runOn(*file, "cpu", sequence, greedyTokens, lower);
  TargetRun ocl = runOn(*file, "opencl", sequence, greedyTokens, lower);
  ASSERT_EQ(cpu.logits.size(), ocl.logits.size());
  ASSERT_FALSE(cpu.logits.empty());
  const size_t vocab = size_t(spec->vocabSize);
  double maxAbs = 0, maxLogit = 0;
  size_t agree = 0, rows = cpu.logits.size() / vocab;
  for (size_t i = 0; i < cpu.logits.size(); ++i) {
    maxAbs = std::max(maxAbs, double(std::fabs(cpu.logits[i] - ocl.logits[i])));
    maxLogit = std::max(maxLogit, double(std::fabs(cpu.logits[i])));
  }
  for (size_t r = 0; r < rows; ++r) {
    std::span<const float> a(cpu.logits.data() + r * vocab, vocab);
    std::span<const float> b(ocl.logits.data() + r * vocab, vocab);
    agree += argmax(a) == argmax(b);
  }
  std::printf("[ opencl ] %s: teacher-forced logits max-abs difference %.3g (largest "
              "|logit| %.3g), top-1 agreement %zu/%zu; greedy %d tokens\n",
              std::filesystem::path(path).filename().c_str(), maxAbs, maxLogit, agree, rows,
              greedyTokens);
  // Different summation orders (and, for q8 activations, a rounding that
  // may land on the other side of a .5 step) move logits by far less than
  // a percent of their range; a wrong kernel moves them by whole units.
  EXPECT_LT(maxAbs, 0.02 * maxLogit + 1e-3);
  if (bitIdentical)
    EXPECT_EQ(maxAbs, 0.0) << "the integer-dot path no longer sums in the CPU's order";
  EXPECT_EQ(cpu.greedy, ocl.greedy);
}

TEST_P(OpenClForward, SameGreedyIdsAndCloseLogitsAsCpu) {
  REQUIRE_OPENCL();
  // The OpenCL integer dots sum in llama.cpp's order, which the CPU keeps
  // under --numerics exact (its fast kernels sum q8_0 and the K-quants'
  // blocks whole).
  codegen::LowerOptions lower;
  if (GetParam().bitIdentical)
    lower.numerics = codegen::Numerics::Exact;
  compareTargets(test::sharedFile(GetParam().path), GetParam().greedyTokens, lower,
                 GetParam().bitIdentical);
}

// Without integer dots the matmuls read f32 rows (rounded as llama.cpp's
// dot products see them); the CPU then runs them unfused, OpenCL fused.
TEST(OpenClForwardFloatDots, Q4_0WithoutIntegerDots) {
  REQUIRE_OPENCL();
  codegen::LowerOptions lower;
  lower.integerDots = false;
  compareTargets(test::sharedFile("tinyshakes-llama/tinyshakes-llama-q4_0.gguf"), 32, lower);
}

// GQA (6 query heads over 2 KV heads) and a tied output, which no shared
// model has: a random-weight model from the synth preset.
TEST(OpenClForwardGqa, SixHeadsOverTwoKvHeadsWithTiedOutput) {
  REQUIRE_OPENCL();
  auto vocab = GgufFile::open(test::sharedFile("tinyshakes-llama/tinyshakes-llama-f32.gguf"));
  ASSERT_TRUE(vocab.ok()) << vocab.error().message;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kiln-opencl-gqa-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "gqa.gguf").string();
  SynthOptions options;
  options.shape = findLlamaPreset("tiny-gqa-tied");
  ASSERT_NE(options.shape, nullptr);
  options.type = GgmlType::F32;
  options.stddev = 0.08f; // logits far enough apart for greedy ids to be a test
  Status written = writeSyntheticLlama(options, *vocab, path);
  ASSERT_TRUE(written.ok()) << written.message();
  auto spec = ModelSpec::fromGguf(*GgufFile::open(path));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->headCount, 6u);
  EXPECT_EQ(spec->headCountKv, 2u);
  EXPECT_TRUE(spec->tiedOutput);
  compareTargets(path, 64);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    SharedModels, OpenClForward,
    testing::Values(ModelCase{"tinyshakes-llama/tinyshakes-llama-f32.gguf", 64},
                    ModelCase{"tinyshakes-llama/tinyshakes-llama-f16.gguf", 64},
                    ModelCase{"tinyshakes-llama/tinyshakes-llama-q8_0.gguf", 64, true},
                    ModelCase{"tinyshakes-llama/tinyshakes-llama-q4_0.gguf", 64, true},
                    ModelCase{"tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf", 64},
                    ModelCase{"tinyshakes-gpt2/tinyshakes-gpt2-f16.gguf", 64},
                    ModelCase{"tinyshakes-gpt2/tinyshakes-gpt2-q8_0.gguf", 64},
                    ModelCase{"tinyshakes-gpt2/tinyshakes-gpt2-q4_0.gguf", 64, true}),
    [](const testing::TestParamInfo<ModelCase> &info) {
      std::string name = info.param.path.substr(info.param.path.find('/') + 1);
      name = name.substr(0, name.find('.'));
      for (char &ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)))
          ch = '_';
      return name;
    });

} // namespace
} // namespace kiln
