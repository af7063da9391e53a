// The OpenCL runtime's error paths on a real device (PoCL in CI): a program
// that does not build reports its build log; memory the device cannot give
// is a null allocation or an error naming the size, never a crash; a launch
// with an argument that is no device buffer is reported at synchronize.
// And the generated program in the variant for devices with subgroups and
// fp16, which PoCL lacks, still parses (clang-15's OpenCL C 2.0 front end).
#include "codegen/Compile.h"
#include "codegen/TargetRegistry.h"
#include "TestData.h"
#include "gguf/GgufFile.h"

#include "mlir/IR/MLIRContext.h"

#ifdef KILN_HAVE_OPENCL
#include "codegen/opencl/OpenClTarget.h"
#include "runtime/opencl/OpenClDevice.h"
#endif

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace kiln {
namespace {

#ifdef KILN_HAVE_OPENCL
using namespace runtime::opencl;

std::shared_ptr<OpenClContext> contextOrSkip(std::string *why) {
  auto context = OpenClContext::open();
  if (!context) {
    *why = context.error().message;
    return nullptr;
  }
  return *context;
}

#define OPEN_CONTEXT(name)                                                     \
  std::string why;                                                             \
  auto name = contextOrSkip(&why);                                             \
  if (!name) {                                                                 \
    if (std::getenv("KILN_ALLOW_NO_OPENCL_DEVICE"))                            \
      GTEST_SKIP() << why;                                                     \
    FAIL() << why;                                                             \
  }

void noWarning(const std::string &warning) { ADD_FAILURE() << warning; }

TEST(OpenClRuntime, ABuildFailureCarriesTheBuildLog) {
  OPEN_CONTEXT(context);
  OpenClModule module;
  module.source = "__kernel void broken(__global float *x) { x[0] = undefined_name; }\n";
  module.kernels.push_back({"broken", 0, {}});
  auto program = OpenClProgram::build(context, module, "", noWarning);
  ASSERT_FALSE(program.ok());
  const std::string &message = program.error().message;
  EXPECT_NE(message.find("does not build"), std::string::npos) << message;
  EXPECT_NE(message.find("build log"), std::string::npos) << message;
  EXPECT_NE(message.find("undefined_name"), std::string::npos) << message;
}

TEST(OpenClRuntime, AMissingKernelIsNamed) {
  OPEN_CONTEXT(context);
  OpenClModule module;
  module.source = "__kernel void present(__global float *x) { x[0] = 1.0f; }\n";
  module.kernels.push_back({"absent", 0, {}});
  auto program = OpenClProgram::build(context, module, "", noWarning);
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.error().message.find("no kernel 'absent'"), std::string::npos)
      << program.error().message;
}

// One kernel that writes x[i] = i + position over rows.
std::shared_ptr<OpenClProgram> tinyProgram(std::shared_ptr<OpenClContext> context,
                                           const std::string &cacheDir) {
  OpenClModule module;
  module.source = "__kernel void fill(__global uchar *a0, ulong o0, long rows, long position) {"
                  " __global float *x = (__global float *)(a0 + o0);"
                  " x[get_global_id(0)] = (float)(get_global_id(0) + position); }\n";
  module.kernels.push_back({"fill", 1, {4, 2, false}});
  auto program = OpenClProgram::build(std::move(context), module, cacheDir, noWarning);
  EXPECT_TRUE(program.ok()) << program.error().message;
  return program.ok() ? *program : nullptr;
}

TEST(OpenClRuntime, LaunchesWritesAndReadsThroughOffsets) {
  OPEN_CONTEXT(context);
  auto program = tinyProgram(context, "");
  ASSERT_TRUE(program);
  OpenClDevice device(program);
  auto *buffer = static_cast<uint8_t *>(device.allocate(64 * sizeof(float)));
  ASSERT_NE(buffer, nullptr);
  void *args[] = {buffer + 8 * sizeof(float)}; // an offset into the allocation
  device.launch({0, args, 1, 100});
  ASSERT_TRUE(device.synchronize().ok());
  std::vector<float> values(64, -1.0f);
  ASSERT_TRUE(device.read(buffer, values.data(), values.size() * sizeof(float)).ok());
  // A copy from an address that is no device buffer fails at once.
  int host = 0;
  Status bad = device.read(&host, values.data(), 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("no device buffer"), std::string::npos) << bad.message();
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(values[i], i >= 8 && i < 16 ? float(100 + i - 8) : 0.0f) << i;
  device.release(buffer);
}

TEST(OpenClRuntime, TooMuchMemoryIsRefusedNotACrash) {
  OPEN_CONTEXT(context);
  auto program = tinyProgram(context, "");
  ASSERT_TRUE(program);
  OpenClDevice device(program);
  EXPECT_EQ(device.allocate(context->facts().maxAllocBytes + 1), nullptr);
  std::vector<uint8_t> small(16);
  auto weight = device.upload(std::span<const uint8_t>(small.data(), small.size()));
  EXPECT_TRUE(weight.ok()) << weight.error().message;
  // An argument that is no device buffer: reported, the launch skipped.
  int hostValue = 0;
  void *args[] = {&hostValue};
  device.launch({0, args, 1, 0});
  Status status = device.synchronize();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("argument 0 is no device buffer"), std::string::npos)
      << status.message();
  EXPECT_TRUE(device.synchronize().ok()); // reported once
}

TEST(OpenClRuntime, TheSecondBuildComesFromTheBinaryCache) {
  OPEN_CONTEXT(context);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kiln-opencl-cache-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto first = tinyProgram(context, dir.string());
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->cacheHit());
  auto second = tinyProgram(context, dir.string());
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->cacheHit());
  std::filesystem::remove_all(dir);
}

// The program for a device with subgroups and fp16 (PoCL has neither, so
// only a front end can check it): every kernel of a K-quant llama model.
TEST(OpenClSource, SubgroupAndFp16VariantParsesAsOpenClC20) {
  if (std::system("command -v clang-15 >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "clang-15 is not installed";
  auto file = GgufFile::open(test::sharedFile("tinyshakes-llama/tinyshakes-llama-q4_k_m.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto spec = ModelSpec::fromGguf(*file);
  ASSERT_TRUE(spec.ok());
  mlir::MLIRContext mlirContext;
  codegen::CompileOptions options;
  options.target = "opencl";
  auto graph = codegen::buildGraph(mlirContext, *spec, options);
  ASSERT_TRUE(graph.ok()) << graph.error().message;
  auto lowered = codegen::lowerGraph(graph->get(), options);
  ASSERT_TRUE(lowered.ok()) << lowered.error().message;
  DeviceFacts facts;
  facts.fp16 = facts.subgroups = true;
  facts.openclC = "OpenCL C 2.0";
  facts.maxWorkGroup = 256;
  facts.localMemBytes = 32768;
  auto module = codegen::opencl::generateModule(*lowered, facts);
  ASSERT_TRUE(module.ok()) << module.error().message;
  ASSERT_NE(module->source.find("sub_group_reduce_add"), std::string::npos);
  ASSERT_NE(module->buildOptions.find("-cl-std=CL2.0"), std::string::npos);
  // A 1.2 device listing the extension gets the baseline reductions.
  facts.openclC = "OpenCL C 1.2";
  auto baseline = codegen::opencl::generateModule(*lowered, facts);
  ASSERT_TRUE(baseline.ok()) << baseline.error().message;
  EXPECT_EQ(baseline->source.find("KILN_SUBGROUPS 1"), std::string::npos);
  EXPECT_NE(baseline->buildOptions.find("-cl-std=CL1.2"), std::string::npos);
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("kiln-subgroups-" + std::to_string(getpid()) + ".cl");
  std::ofstream(path) << module->source;
  std::string command = "clang-15 -x cl -cl-std=CL2.0 -Xclang -finclude-default-header "
                        "-Xclang -cl-ext=+cl_khr_subgroups,+cl_khr_fp16 -fsyntax-only " +
                        path.string() + " 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[4096];
  while (size_t n = fread(chunk, 1, sizeof chunk, pipe))
    output.append(chunk, n);
  int status = pclose(pipe);
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << output.substr(0, 4000);
}
#else
TEST(OpenClRuntime, NotBuilt) { GTEST_SKIP() << "kiln was built without OpenCL"; }
#endif

} // namespace
} // namespace kiln
