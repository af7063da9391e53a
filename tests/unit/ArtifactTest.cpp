// The AOT artifact's container and plan encoding (runtime/artifact): a
// round trip keeps every field; every truncation, a flipped byte, a wrong
// magic or version is an error naming the file, never a crash.
#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/PlanCodec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace kiln;
using namespace kiln::runtime;
using namespace kiln::runtime::artifact;

namespace {

ExecutionPlan samplePlan() {
  ExecutionPlan plan;
  plan.kernelSymbols = {"kiln_0_embedding", "kiln_1_matmul"};
  plan.weightNames = {"token_embd.weight", "output.weight", "output.weight"};
  plan.weightLayouts = {WeightLayout::Gguf, WeightLayout::Gguf, WeightLayout::Q4_0x8};
  plan.buffers = {{64, 4, false, true}, {32000, 4, true, true}, {72, 1, false, false}};
  plan.numLayers = 2;
  plan.kvWidth = 64;
  plan.kvElementBytes = 2;
  plan.contextLength = 256;
  plan.vocabSize = 32000;
  plan.prefill.steps = {
      {0, {{SlotKind::Weight, 0}, {SlotKind::Tokens, 0}, {SlotKind::Activation, 0}}, false,
       "embed"},
      {1, {{SlotKind::Activation, 0}, {SlotKind::Weight, 2}, {SlotKind::Activation, 1}}, true,
       "output"}};
  plan.prefill.logits = 1;
  plan.decode = plan.prefill;
  plan.decode.steps.push_back({1, {{SlotKind::KeyCache, 1}, {SlotKind::ValueCache, 0}}, false,
                               "cache"});
  plan.decode.allRows = true;
  return plan;
}

void expectSamePlan(const ExecutionPlan &a, const ExecutionPlan &b) {
  EXPECT_EQ(a.kernelSymbols, b.kernelSymbols);
  EXPECT_EQ(a.weightNames, b.weightNames);
  EXPECT_EQ(a.weightLayouts, b.weightLayouts);
  ASSERT_EQ(a.buffers.size(), b.buffers.size());
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    EXPECT_EQ(a.buffers[i].cols, b.buffers[i].cols);
    EXPECT_EQ(a.buffers[i].elementBytes, b.buffers[i].elementBytes);
    EXPECT_EQ(a.buffers[i].singleRow, b.buffers[i].singleRow);
    EXPECT_EQ(a.buffers[i].holdsFloats, b.buffers[i].holdsFloats);
  }
  EXPECT_EQ(a.numLayers, b.numLayers);
  EXPECT_EQ(a.kvWidth, b.kvWidth);
  EXPECT_EQ(a.kvElementBytes, b.kvElementBytes);
  EXPECT_EQ(a.contextLength, b.contextLength);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  for (auto [x, y] : {std::pair{&a.prefill, &b.prefill}, std::pair{&a.decode, &b.decode}}) {
    EXPECT_EQ(x->logits, y->logits);
    EXPECT_EQ(x->allRows, y->allRows);
    ASSERT_EQ(x->steps.size(), y->steps.size());
    for (size_t i = 0; i < x->steps.size(); ++i) {
      EXPECT_EQ(x->steps[i].kernel, y->steps[i].kernel);
      EXPECT_EQ(x->steps[i].singleRow, y->steps[i].singleRow);
      EXPECT_EQ(x->steps[i].label, y->steps[i].label);
      ASSERT_EQ(x->steps[i].args.size(), y->steps[i].args.size());
      for (size_t j = 0; j < x->steps[i].args.size(); ++j) {
        EXPECT_EQ(x->steps[i].args[j].kind, y->steps[i].args[j].kind);
        EXPECT_EQ(x->steps[i].args[j].index, y->steps[i].args[j].index);
      }
    }
  }
}

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("kiln-artifact-" + std::to_string(getpid()) + "-" + name))
      .string();
}

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
}

} // namespace

TEST(PlanCodec, RoundTripKeepsEveryField) {
  ExecutionPlan plan = samplePlan();
  auto decoded = decodePlan(encodePlan(plan), "test");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expectSamePlan(plan, *decoded);
}

TEST(PlanCodec, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = encodePlan(samplePlan());
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto decoded = decodePlan(std::span(bytes.data(), size), "plan.bin");
    ASSERT_FALSE(decoded.ok()) << "truncated to " << size;
    EXPECT_NE(decoded.error().message.find("plan.bin: field '"), std::string::npos)
        << decoded.error().message;
  }
}

TEST(PlanCodec, OutOfRangeIndicesAreRefused) {
  ExecutionPlan plan = samplePlan();
  plan.prefill.steps[0].args[0].index = 7; // 3 weights
  auto weight = decodePlan(encodePlan(plan), "p");
  ASSERT_FALSE(weight.ok());
  EXPECT_NE(weight.error().message.find("index 7 of 3"), std::string::npos)
      << weight.error().message;
  plan = samplePlan();
  plan.decode.steps[0].kernel = 2;
  auto kernel = decodePlan(encodePlan(plan), "p");
  ASSERT_FALSE(kernel.ok());
  EXPECT_NE(kernel.error().message.find("kernel 2 of 2"), std::string::npos);
  plan = samplePlan();
  plan.decode.logits = 3;
  EXPECT_FALSE(decodePlan(encodePlan(plan), "p").ok());
  // A count far beyond the bytes allocates nothing.
  std::vector<uint8_t> huge(8, 0xff);
  auto count = decodePlan(huge, "p");
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.error().message.find("exceeds what"), std::string::npos);
}

TEST(PlanCodec, TaskCountsMustMatchTheKernels) {
  std::vector<TaskCount> tasks = {{0, 1}, {32, 0}};
  auto decoded = decodeTaskCounts(encodeTaskCounts(tasks), 2, "t");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ((*decoded)[1].fixed, 32);
  EXPECT_FALSE(decodeTaskCounts(encodeTaskCounts(tasks), 3, "t").ok());
  EXPECT_FALSE(decodeTaskCounts(encodeTaskCounts({{0, 0}}), 1, "t").ok());
}

TEST(PlanCodec, OpenClModuleRoundTripAndChecks) {
  opencl::OpenClModule module;
  module.source = "__kernel void kiln_0_embedding() {}";
  module.buildOptions = "-cl-std=CL1.2";
  module.kernels = {{"kiln_0_embedding", 3, {64, 10, false}}, {"kiln_1_matmul", 3, {256, 4, true}}};
  const std::vector<std::string> symbols = {"kiln_0_embedding", "kiln_1_matmul"};
  auto decoded = decodeOpenClModule(encodeOpenClModule(module), symbols, "m");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->source, module.source);
  EXPECT_EQ(decoded->buildOptions, module.buildOptions);
  ASSERT_EQ(decoded->kernels.size(), 2u);
  EXPECT_EQ(decoded->kernels[1].launch.local, 256u);
  EXPECT_EQ(decoded->kernels[1].launch.groups, 4);
  EXPECT_TRUE(decoded->kernels[1].launch.perRow);
  // Kernels that are not the plan's, a zero work-group: refused.
  auto renamed = decodeOpenClModule(encodeOpenClModule(module), {"a", "b"}, "m");
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.error().message.find("where the plan names 'a'"), std::string::npos);
  module.kernels[0].launch.local = 0;
  EXPECT_FALSE(decodeOpenClModule(encodeOpenClModule(module), symbols, "m").ok());
  std::vector<uint8_t> bytes = encodeOpenClModule(module);
  for (size_t size = 0; size < bytes.size(); size += 5)
    EXPECT_FALSE(decodeOpenClModule(std::span(bytes.data(), size), symbols, "m").ok());
}

TEST(PlanCodec, CudaModuleRoundTripAndChecks) {
  cuda::CudaModule module;
  module.ptx = ".version 7.0\n.target sm_80\n";
  module.arch = "sm_80";
  module.kernels = {{"kiln_0_embedding", 3, {0, 1}, 64}, {"kiln_1_matmul", 4, {48, 0}, 64}};
  const std::vector<std::string> symbols = {"kiln_0_embedding", "kiln_1_matmul"};
  auto decoded = decodeCudaModule(encodeCudaModule(module), symbols, "m");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->ptx, module.ptx);
  EXPECT_EQ(decoded->arch, "sm_80");
  ASSERT_EQ(decoded->kernels.size(), 2u);
  EXPECT_EQ(decoded->kernels[1].argCount, 4u);
  EXPECT_EQ(decoded->kernels[1].tasks.fixed, 48);
  EXPECT_EQ(decoded->kernels[0].tasks.perRow, 1);
  EXPECT_EQ(decoded->kernels[1].blockSize, 64u);
  // Kernels that are not the plan's, a bad architecture, a block the
  // device cannot launch, negative tasks, truncated bytes: refused.
  auto renamed = decodeCudaModule(encodeCudaModule(module), {"a", "b"}, "m");
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.error().message.find("where the plan names 'a'"), std::string::npos);
  cuda::CudaModule bad = module;
  bad.arch = "compute_80";
  EXPECT_FALSE(decodeCudaModule(encodeCudaModule(bad), symbols, "m").ok());
  bad = module;
  bad.kernels[0].blockSize = 2048;
  EXPECT_FALSE(decodeCudaModule(encodeCudaModule(bad), symbols, "m").ok());
  bad = module;
  bad.kernels[1].tasks.fixed = -1;
  EXPECT_FALSE(decodeCudaModule(encodeCudaModule(bad), symbols, "m").ok());
  std::vector<uint8_t> bytes = encodeCudaModule(module);
  for (size_t size = 0; size < bytes.size(); size += 5)
    EXPECT_FALSE(decodeCudaModule(std::span(bytes.data(), size), symbols, "m").ok());
}

TEST(Artifact, WriteThenReadKeepsTheSections) {
  Artifact artifact;
  artifact.meta = {{"target", "cpu"}, {"cpu", "znver3"}, {"gguf_path", "/m.gguf"}};
  artifact.plan = samplePlan();
  artifact.cpuTasks = {{0, 1}, {4, 0}};
  artifact.cpuCode = {0x7f, 'E', 'L', 'F', 1, 2, 3};
  artifact.ggufMetadata = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  // Two stored weights, handed over one at a time as the writer reaches them.
  std::vector<uint8_t> first(5000), second(3);
  for (size_t i = 0; i < first.size(); ++i)
    first[i] = uint8_t(i * 7);
  second = {9, 8, 7};
  std::vector<WeightToWrite> weights = {
      {0, first.size(), [&](WeightBuffer &) { return Result<std::span<const uint8_t>>(first); }},
      {2, second.size(), [&](WeightBuffer &scratch) {
         scratch = WeightBuffer::allocate(second.size());
         std::copy(second.begin(), second.end(), scratch.data());
         return Result<std::span<const uint8_t>>(std::span<const uint8_t>(scratch));
       }}};
  const std::string path = tempPath("round.kiln");
  ASSERT_TRUE(writeArtifact(path, artifact, weights).ok());
  EXPECT_TRUE(looksLikeArtifact(path));
  auto read = readArtifact(path);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->meta, artifact.meta);
  expectSamePlan(artifact.plan, read->plan);
  EXPECT_EQ(read->cpuCode, artifact.cpuCode);
  ASSERT_EQ(read->cpuTasks.size(), 2u);
  EXPECT_EQ(read->cpuTasks[1].fixed, 4);
  EXPECT_EQ(read->ggufMetadata, artifact.ggufMetadata);
  ASSERT_EQ(read->weights.size(), 2u);
  EXPECT_EQ(read->weights[0].index, 0u);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), read->weights[0].bytes.begin(),
                         read->weights[0].bytes.end()));
  EXPECT_EQ(read->weights[1].index, 2u);
  EXPECT_TRUE(std::equal(second.begin(), second.end(), read->weights[1].bytes.begin(),
                         read->weights[1].bytes.end()));
  // Stored weights start on page boundaries (they are mapped in place).
  for (const StoredWeight &w : read->weights)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w.bytes.data()) % 4096, 0u);
  EXPECT_TRUE(readArtifact(path, {.verifyWeights = true}).ok());

  // Every truncation and every flipped byte of the file: an error, and
  // one that names the file.
  std::vector<uint8_t> bytes = readBytes(path);
  const std::string broken = tempPath("broken.kiln");
  for (size_t size = 0; size < bytes.size(); size += 97) {
    writeBytes(broken, std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(size)));
    auto truncated = readArtifact(broken);
    ASSERT_FALSE(truncated.ok()) << "truncated to " << size;
    EXPECT_EQ(truncated.error().message.rfind(broken, 0), 0u) << truncated.error().message;
  }
  for (size_t at = 0; at < bytes.size(); at += 13) {
    std::vector<uint8_t> flipped = bytes;
    flipped[at] ^= 0x20;
    writeBytes(broken, flipped);
    auto read = readArtifact(broken);
    // Padding between sections is not covered by a hash: a flip there
    // changes nothing that is read.
    if (read.ok()) {
      EXPECT_EQ(read->cpuCode, artifact.cpuCode) << "byte " << at;
      expectSamePlan(artifact.plan, read->plan);
    }
  }
  // A flipped weight byte passes a plain read (the weights are not hashed
  // at every load) and fails a verifying one.
  std::vector<uint8_t> flippedWeight = bytes;
  // The weights section ends the file: 5000 bytes padded to two pages,
  // then 3 bytes padded to one.
  flippedWeight[bytes.size() - 3 * 4096 + 10] ^= 1;
  writeBytes(broken, flippedWeight);
  auto unverified = readArtifact(broken);
  ASSERT_TRUE(unverified.ok()) << unverified.error().message;
  EXPECT_EQ(unverified->weights[0].bytes[10], uint8_t(first[10] ^ 1));
  auto verified = readArtifact(broken, {.verifyWeights = true});
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("section 'weights' does not match its SHA-256"),
            std::string::npos)
      << verified.error().message;
  std::vector<uint8_t> version = bytes;
  version[8] = 3;
  writeBytes(broken, version);
  auto wrongVersion = readArtifact(broken);
  ASSERT_FALSE(wrongVersion.ok());
  EXPECT_NE(wrongVersion.error().message.find("format version 3; this kiln reads version 2"),
            std::string::npos);
  std::filesystem::remove(path);
  std::filesystem::remove(broken);
}

TEST(Artifact, AGgufIsNotAnArtifact) {
  const std::string path = tempPath("not.kiln");
  writeBytes(path, {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(looksLikeArtifact(path));
  auto read = readArtifact(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("not a kiln artifact"), std::string::npos);
  std::filesystem::remove(path);
}

// The fuzzer's seeds (tests/fuzz/make_artifact_seeds.py) are written by a
// second implementation of the format: its valid seed must parse here, and
// each broken one must not, so the corpus starts where it should.
TEST(Artifact, FuzzSeedsMatchTheFormat) {
  const std::string dir = std::string(KILN_SOURCE_DIR) + "/tests/fuzz/artifact-corpus/";
  auto valid = readArtifact(dir + "valid");
  ASSERT_TRUE(valid.ok()) << valid.error().message;
  EXPECT_EQ(valid->plan.kernelSymbols.size(), 2u);
  EXPECT_EQ(valid->cpuTasks.size(), 2u);
  EXPECT_EQ(valid->meta.at("cpu"), "x86-64-v3");
  ASSERT_EQ(valid->weights.size(), 1u);
  EXPECT_EQ(valid->weights[0].index, 1u);
  auto openclSeed = readArtifact(dir + "valid_opencl");
  ASSERT_TRUE(openclSeed.ok()) << openclSeed.error().message;
  ASSERT_TRUE(openclSeed->openclModule.has_value());
  EXPECT_EQ(openclSeed->openclModule->kernels.size(), 2u);
  auto cudaSeed = readArtifact(dir + "valid_cuda");
  ASSERT_TRUE(cudaSeed.ok()) << cudaSeed.error().message;
  ASSERT_TRUE(cudaSeed->cudaModule.has_value());
  EXPECT_EQ(cudaSeed->cudaModule->arch, "sm_80");
  EXPECT_EQ(cudaSeed->cudaModule->kernels.size(), 2u);
  for (const char *broken : {"no_code", "version_1", "short_plan", "bad_tasks", "no_gguf_meta",
                             "weight_past_end", "index_only", "weights_out_of_order",
                             "bad_opencl", "bad_cuda_arch", "no_cuda_module",
                             "cuda_arg_count"})
    EXPECT_FALSE(readArtifact(dir + broken).ok()) << broken;
}
