// The target registry: the names it knows, which are built, what a lookup
// of each gives, and the CPU target's answers to the pipeline's questions.
#include "codegen/Target.h"
#include "codegen/TargetRegistry.h"
#include "codegen/LoweredModel.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::codegen {
namespace {

// CUDA is always built (its code generation needs only LLVM's NVPTX back
// end; the driver is opened at run time).
#ifdef KILN_HAVE_OPENCL
const std::vector<std::string> kBuilt = {"cpu", "opencl", "cuda"};
#else
const std::vector<std::string> kBuilt = {"cpu", "cuda"};
#endif

TEST(TargetRegistry, KnowsCpuOpenClAndCudaAndBuildsCpuCudaAndOpenClWhenFound) {
  EXPECT_EQ(knownTargetNames(), (std::vector<std::string>{"cpu", "opencl", "cuda"}));
  EXPECT_EQ(builtTargetNames(), kBuilt);
}

TEST(TargetRegistry, FindsTheBuiltTargetsByName) {
  for (const std::string &name : kBuilt) {
    auto target = findTarget(name);
    ASSERT_TRUE(target) << target.error().message;
    ASSERT_NE(*target, nullptr);
    EXPECT_EQ((*target)->name(), name);
  }
}

#ifndef KILN_HAVE_OPENCL
TEST(TargetRegistry, KnownButUnbuiltTargetsSaySo) {
  auto opencl = findTarget("opencl");
  ASSERT_FALSE(opencl);
  EXPECT_EQ(opencl.error().message,
            "the OpenCL target is not built yet (available: cpu, cuda)");
}
#endif

// The CUDA kernels are the shared lowering's task bodies: they answer the
// pipeline as the CPU target does, so both run the same plan.
TEST(CudaTarget, AnswersThePipelineAsTheSharedLoweringDoes) {
  auto cuda = findTarget("cuda");
  auto cpu = findTarget("cpu");
  ASSERT_TRUE(cuda && cpu);
  std::span<const GgmlType> a = (*cuda)->decodableWeightTypes();
  std::span<const GgmlType> b = (*cpu)->decodableWeightTypes();
  EXPECT_EQ(std::vector<GgmlType>(a.begin(), a.end()), std::vector<GgmlType>(b.begin(), b.end()));
  for (int64_t headDim : {4, 8, 64, 100})
    EXPECT_EQ((*cuda)->supportsFlashAttention(headDim), (*cpu)->supportsFlashAttention(headDim));
  MatmulInputForm quantized{GgmlType::Q8_0, std::nullopt};
  EXPECT_EQ((*cuda)->matmulWeightLayout(GgmlType::Q4_0, 64, 256, quantized),
            (*cpu)->matmulWeightLayout(GgmlType::Q4_0, 64, 256, quantized));
}

TEST(TargetRegistry, UnknownNamesListTheKnownOnes) {
  for (const char *name : {"foo", "CPU", "", "cpu "}) {
    auto target = findTarget(name);
    ASSERT_FALSE(target) << "'" << name << "'";
    EXPECT_EQ(target.error().message,
              std::string("no target named '") + name + "' (known: cpu, opencl, cuda)");
  }
}

// The list tools/kiln/AutoPrecision.cpp held as "the types the CPU target
// decodes" before it asked the target: same types, same order.
TEST(CpuTarget, DecodesTheTypesThePrecisionChooserOfferedBefore) {
  auto target = findTarget("cpu");
  ASSERT_TRUE(target);
  std::span<const GgmlType> types = (*target)->decodableWeightTypes();
  const std::vector<GgmlType> before = {
      GgmlType::F16,  GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K,
      GgmlType::Q5_1, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q4_1,
      GgmlType::Q4_0, GgmlType::Q3_K, GgmlType::Q2_K,
  };
  EXPECT_EQ(std::vector<GgmlType>(types.begin(), types.end()), before);
}

TEST(CpuTarget, FlashAttentionNeedsHeadsInEights) {
  auto target = findTarget("cpu");
  ASSERT_TRUE(target);
  for (int64_t headDim : {8, 16, 64, 128})
    EXPECT_TRUE((*target)->supportsFlashAttention(headDim)) << headDim;
  for (int64_t headDim : {1, 4, 12, 100})
    EXPECT_FALSE((*target)->supportsFlashAttention(headDim)) << headDim;
}

TEST(CpuTarget, FusedMatmulsNeedTheIntegerDots) {
  auto target = findTarget("cpu");
  ASSERT_TRUE(target);
  LowerOptions lower;
  lower.integerDots = true;
  EXPECT_TRUE((*target)->supportsFusedMatmuls(lower));
  lower.integerDots = false;
  EXPECT_FALSE((*target)->supportsFusedMatmuls(lower));
}

// The matmul input forms both targets ask for: llama.cpp's CPU forms.
TEST(Target, MatmulInputFormsAreLlamaCppsForEveryBuiltTarget) {
  LowerOptions floatDots;
  floatDots.integerDots = false;
  LowerOptions plain = floatDots;
  plain.matchLlamaCppActivations = false;
  for (const std::string &name : builtTargetNames()) {
    auto target = findTarget(name);
    ASSERT_TRUE(target);
    const Target &t = **target;
    EXPECT_EQ(t.matmulInput(GgmlType::Q4_0, {}).quantized, GgmlType::Q8_0) << name;
    EXPECT_EQ(t.matmulInput(GgmlType::Q4_K, {}).quantized, GgmlType::Q8_K) << name;
    EXPECT_FALSE(t.matmulInput(GgmlType::F16, {}).quantized) << name;
    EXPECT_EQ(t.matmulInput(GgmlType::F16, {}).rounding, GgmlType::F16) << name;
    EXPECT_FALSE(t.matmulInput(GgmlType::F32, {}).rounding) << name;
    EXPECT_EQ(t.matmulInput(GgmlType::Q4_0, floatDots).rounding, GgmlType::Q8_0) << name;
    EXPECT_FALSE(t.matmulInput(GgmlType::Q4_0, floatDots).quantized) << name;
    EXPECT_FALSE(t.matmulInput(GgmlType::Q4_0, plain).rounding) << name;
  }
}

#ifdef KILN_HAVE_OPENCL
// Its attention kernels take any head size and its matmuls every fused
// form, so the pipeline runs every pass for it; it decodes the CPU's types.
TEST(OpenClTarget, AnswersThePipelinesQuestions) {
  auto target = findTarget("opencl");
  ASSERT_TRUE(target) << target.error().message;
  for (int64_t headDim : {8, 12, 16, 64, 80})
    EXPECT_TRUE((*target)->supportsFlashAttention(headDim)) << headDim;
  LowerOptions floatDots;
  floatDots.integerDots = false;
  EXPECT_TRUE((*target)->supportsFusedMatmuls(LowerOptions{}));
  EXPECT_TRUE((*target)->supportsFusedMatmuls(floatDots));
  auto cpu = findTarget("cpu");
  ASSERT_TRUE(cpu);
  std::span<const GgmlType> a = (*target)->decodableWeightTypes(),
                            b = (*cpu)->decodableWeightTypes();
  EXPECT_EQ(std::vector<GgmlType>(a.begin(), a.end()), std::vector<GgmlType>(b.begin(), b.end()));
}
#endif

} // namespace
} // namespace kiln::codegen
