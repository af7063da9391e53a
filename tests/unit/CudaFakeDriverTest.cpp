// The CUDA target's runtime half (runtime/cuda/: the driver opened by
// dlopen, context, module, CudaDevice with its deferred launches and CUDA
// graphs) and its entries' launch contract, checked on the CPU: this test
// runs with tests/cuda_fake's libcuda.so.1 on LD_LIBRARY_PATH, which runs
// each PTX entry as the CPU target's task function of the same kernel, one
// task per thread (codegen/cuda/PtxGenerator.h). So the CUDA path must give
// the CPU target's logits bit for bit: what differs is only the runtime
// (copies, argument marshalling, positions, graphs). The PTX itself is
// checked by ptxas (tests/e2e/cuda_ptx.sh) and on a GPU
// (scripts/cuda-device-check.sh).
#include "codegen/Compile.h"
#include "codegen/Program.h"
#include "codegen/cpu/CpuJit.h"
#include "codegen/Target.h"
#include "codegen/TargetRegistry.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "runtime/cpu/ThreadPool.h"
#include "TargetRun.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace kiln {
namespace {

// The fake driver's controls (tests/cuda_fake/FakeCudaDriver.cpp).
struct FakeDriver {
  void (*setDevice)(const char *, int, int, int, uint64_t) = nullptr;
  void (*registerKernel)(const char *, runtime::KernelFn, uint32_t, int64_t, int64_t) = nullptr;
  void (*counts)(uint64_t *, uint64_t *, uint64_t *, uint64_t *) = nullptr;
  const char *(*problem)() = nullptr;
  void (*resetCounts)() = nullptr;

  // The same library the CUDA runtime opens, or null when it is not the fake.
  static FakeDriver *get() {
    static FakeDriver driver;
    static bool opened = [] {
      void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
      if (!library)
        return false;
      driver.setDevice = reinterpret_cast<decltype(driver.setDevice)>(
          dlsym(library, "fakecuda_set_device"));
      driver.registerKernel = reinterpret_cast<decltype(driver.registerKernel)>(
          dlsym(library, "fakecuda_register_kernel"));
      driver.counts = reinterpret_cast<decltype(driver.counts)>(dlsym(library, "fakecuda_counts"));
      driver.problem = reinterpret_cast<decltype(driver.problem)>(
          dlsym(library, "fakecuda_problem"));
      driver.resetCounts = reinterpret_cast<decltype(driver.resetCounts)>(
          dlsym(library, "fakecuda_reset_counts"));
      return driver.setDevice && driver.registerKernel && driver.counts && driver.problem &&
             driver.resetCounts;
    }();
    return opened ? &driver : nullptr;
  }
};

struct Counts {
  uint64_t launches = 0, graphLaunches = 0, captures = 0, positionCopies = 0;
};

Counts counts(FakeDriver &fake) {
  Counts c;
  fake.counts(&c.launches, &c.graphLaunches, &c.captures, &c.positionCopies);
  return c;
}

#define REQUIRE_FAKE_DRIVER(fake)                                                          \
  FakeDriver *fake = FakeDriver::get();                                                    \
  if (!fake)                                                                               \
    FAIL() << "libcuda.so.1 is not tests/cuda_fake's driver: run this test through ctest " \
              "(it sets LD_LIBRARY_PATH)";                                                 \
  fake->setDevice("Fake H200", 9, 0, 1, uint64_t(1) << 34)

std::string model(const std::string &name) {
  return (test::sharedModelsDir() / name).string();
}

// The CPU target's program of `file`, its kernels registered as the fake
// driver's entries of the same names (kept alive by the returned program).
codegen::Program registerCpuKernels(const GgufFile &file, FakeDriver &fake) {
  codegen::CompileOptions options;
  options.target = "cpu";
  options.allLogits = true;
  auto program = codegen::compile(file, options);
  EXPECT_TRUE(program.ok()) << program.error().message;
  const codegen::cpu::CpuJit *jit = program->cpuJit();
  const runtime::ExecutionPlan &plan = program->lowered.plan;
  std::vector<uint32_t> argCounts(plan.kernelSymbols.size(), 0);
  for (const runtime::EntryPoint *entry : {&plan.prefill, &plan.decode})
    for (const runtime::Step &step : entry->steps)
      argCounts[step.kernel] = uint32_t(step.args.size());
  for (size_t i = 0; i < plan.kernelSymbols.size(); ++i)
    fake.registerKernel(plan.kernelSymbols[i].c_str(), jit->kernels()[i].fn, argCounts[i],
                        jit->kernels()[i].tasks.fixed, jit->kernels()[i].tasks.perRow);
  return std::move(program).value();
}

// 32 fixed ids teacher-forced, then `greedyTokens` greedy ids, on `target`.
TargetRun runOn(const GgufFile &file, const std::string &target, int greedyTokens) {
  auto spec = ModelSpec::fromGguf(file);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  if (!spec.ok())
    return {};
  return runOn(file, target, fixedSequence(spec->vocabSize, 32), greedyTokens);
}

class CudaFakeDriver : public testing::TestWithParam<std::string> {};

TEST_P(CudaFakeDriver, LogitsAndGreedyIdsAreTheCpuTargetsAndDecodeReplaysAGraph) {
  REQUIRE_FAKE_DRIVER(fake);
  auto file = GgufFile::open(model(GetParam()));
  ASSERT_TRUE(file.ok()) << file.error().message;
  codegen::Program cpuProgram = registerCpuKernels(*file, *fake);
  const int greedyTokens = 16;
  TargetRun cpu = runOn(*file, "cpu", greedyTokens);
  fake->resetCounts();
  TargetRun cuda = runOn(*file, "cuda", greedyTokens);
  EXPECT_STREQ(fake->problem(), "");
  ASSERT_EQ(cpu.logits.size(), cuda.logits.size());
  ASSERT_FALSE(cpu.logits.empty());
  size_t differing = 0;
  for (size_t i = 0; i < cpu.logits.size(); ++i)
    differing += cpu.logits[i] != cuda.logits[i];
  EXPECT_EQ(differing, 0u) << "of " << cpu.logits.size() << " logits";
  EXPECT_EQ(cpu.greedy, cuda.greedy);
  // Decode steps 1 and 2 launch each kernel; step 2 repeats step 1 and is
  // captured, and every later step is one graph launch.
  Counts c = counts(*fake);
  EXPECT_EQ(c.captures, 1u);
  EXPECT_EQ(c.graphLaunches, uint64_t(greedyTokens - 1));
  EXPECT_GT(c.launches, 0u);
  // Each step copies its position once, as a graph's first node or before
  // its kernels.
  EXPECT_EQ(c.positionCopies, uint64_t(2 + greedyTokens));
}

INSTANTIATE_TEST_SUITE_P(SharedModels, CudaFakeDriver,
                         testing::Values("tinyshakes-llama/tinyshakes-llama-q8_0.gguf",
                                         "tinyshakes-llama/tinyshakes-llama-q4_0.gguf",
                                         "tinyshakes-gpt2/tinyshakes-gpt2-f16.gguf"),
                         [](const testing::TestParamInfo<std::string> &info) {
                           std::string name = info.param.substr(info.param.find('/') + 1);
                           name = name.substr(0, name.find('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(CudaFakeDriverGraphs, OffLaunchesEveryKernelWithTheSameIds) {
  REQUIRE_FAKE_DRIVER(fake);
  auto file = GgufFile::open(model("tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  codegen::Program cpuProgram = registerCpuKernels(*file, *fake);
  TargetRun cpu = runOn(*file, "cpu", 8);
  fake->resetCounts();
  setenv("KILN_CUDA_GRAPHS", "0", 1);
  TargetRun cuda = runOn(*file, "cuda", 8);
  unsetenv("KILN_CUDA_GRAPHS");
  EXPECT_EQ(cpu.greedy, cuda.greedy);
  Counts c = counts(*fake);
  EXPECT_EQ(c.captures, 0u);
  EXPECT_EQ(c.graphLaunches, 0u);
}

// What the CUDA target says about the device, through the driver.
std::string cudaCompileError(const GgufFile &file, const std::string &arch = {}) {
  codegen::CompileOptions options;
  options.target = "cuda";
  options.allLogits = true; // the plan registerCpuKernels registered
  options.cudaArch = arch;
  auto program = codegen::compile(file, options);
  return program.ok() ? std::string() : program.error().message;
}

TEST(CudaFakeDriverErrors, ADeviceOlderThanThePtxIsRefused) {
  REQUIRE_FAKE_DRIVER(fake);
  auto file = GgufFile::open(model("tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  codegen::Program cpuProgram = registerCpuKernels(*file, *fake);
  fake->setDevice("Fake T4", 7, 5, 1, uint64_t(1) << 34);
  std::string error = cudaCompileError(*file, "sm_80");
  EXPECT_NE(error.find("CUDA device 'Fake T4' is sm_75, older than the kernels' target sm_80: "
                       "compile them with --cuda-arch sm_75"),
            std::string::npos)
      << error;
  // Its own architecture it runs.
  EXPECT_EQ(cudaCompileError(*file), "");
}

TEST(CudaFakeDriverErrors, NoDeviceIsSaidBeforeAnyWork) {
  REQUIRE_FAKE_DRIVER(fake);
  fake->setDevice("none", 9, 0, 0, 0);
  auto target = codegen::findTarget("cuda");
  ASSERT_TRUE(target.ok());
  Status runnable = (*target)->checkRunnable();
  ASSERT_FALSE(runnable.ok());
  EXPECT_EQ(runnable.message(), "no CUDA device: the NVIDIA driver finds no GPU");
}

TEST(CudaFakeDriverErrors, TooLittleDeviceMemoryIsAnErrorNotACrash) {
  REQUIRE_FAKE_DRIVER(fake);
  auto file = GgufFile::open(model("tinyshakes-llama/tinyshakes-llama-q8_0.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  codegen::Program cpuProgram = registerCpuKernels(*file, *fake);
  fake->setDevice("Fake small GPU", 9, 0, 1, 1 << 20); // 1 MiB: not the 4 MB of weights
  codegen::CompileOptions options;
  options.target = "cuda";
  options.allLogits = true; // the plan registerCpuKernels registered
  auto program = codegen::compile(*file, options);
  ASSERT_TRUE(program.ok()) << program.error().message;
  runtime::ThreadPool pool(1);
  auto executor = codegen::makeExecutor(*program, *file, pool);
  ASSERT_FALSE(executor.ok());
  const std::string &message = executor.error().message;
  EXPECT_NE(message.find("CUDA device 'Fake small GPU'"), std::string::npos) << message;
  EXPECT_NE(message.find("CUDA_ERROR_OUT_OF_MEMORY (out of memory)"), std::string::npos)
      << message;
}

} // namespace
} // namespace kiln
