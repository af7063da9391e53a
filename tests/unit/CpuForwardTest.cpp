// The whole compiler path on the CPU: GGUF -> ModelSpec -> kiln dialect ->
// plan -> LLVM kernels -> executor, checked against llama.cpp's teacher-
// forced logits and greedy continuations (../shared/models).
#include "codegen/Compile.h"
#include "TestData.h"
#include "gguf/GgufFile.h"
#include "quant/ModelQuantizer.h"
#include "runtime/Executor.h"

#include <gtest/gtest.h>

#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace kiln {
namespace {

std::vector<int32_t> readIds(const std::string &path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;)
    ids.push_back(id);
  return ids;
}

std::vector<float> readFloats(const std::string &path) {
  std::vector<uint8_t> bytes = test::readBytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// A compiled model ready to run.
struct CompiledModel {
  GgufFile file;
  codegen::Program program;
  std::unique_ptr<runtime::ThreadPool> pool;
  std::unique_ptr<runtime::Executor> executor;
};

std::unique_ptr<CompiledModel> compile(const std::string &path, bool allLogits,
                                       unsigned threads = 2,
                                       bool llamaCppNumerics = true,
                                       bool integerDots = true,
                                       const std::string &features = "",
                                       codegen::Numerics numerics = codegen::Numerics::Exact) {
  auto file = GgufFile::open(path);
  EXPECT_TRUE(file.ok()) << file.error().message;
  if (!file.ok())
    return nullptr;
  codegen::CompileOptions options;
  options.allLogits = allLogits;
  options.lower.kvCacheF16 = llamaCppNumerics;
  options.lower.matchLlamaCppActivations = llamaCppNumerics;
  options.lower.integerDots = llamaCppNumerics && integerDots;
  // By default llama.cpp's arithmetic bit for bit (--numerics exact), which
  // most comparisons below check; the fast kernels are held to accuracy
  // (tests/e2e/numerics_fast.sh) and to one answer on every ISA level.
  options.lower.numerics = numerics;
  options.cpu.features = features;
  // llama.cpp's reference graph forms the rows of scores (no flash
  // attention); every other fusion keeps its results bit for bit, so the
  // comparisons below also check them (FusionEquivalenceTest: on vs off).
  options.passes.disabled.insert("kiln-flash-attention");
  auto program = codegen::compile(*file, options);
  EXPECT_TRUE(program.ok()) << program.error().message;
  if (!program.ok())
    return nullptr;
  auto model = std::unique_ptr<CompiledModel>(new CompiledModel{
      std::move(file).value(), std::move(program).value(), nullptr, nullptr});
  model->pool = std::make_unique<runtime::ThreadPool>(threads);
  runtime::ExecutorOptions execOptions;
  execOptions.maxBatch = 128;
  auto executor = codegen::makeExecutor(model->program, model->file,
                                        *model->pool, execOptions);
  EXPECT_TRUE(executor.ok()) << executor.error().message;
  if (!executor.ok())
    return nullptr;
  model->executor = std::move(executor).value();
  return model;
}

struct LogitComparison {
  double maxAbsError = 0;
  double top1Agreement = 0;
};

LogitComparison compareWithReference(const std::string &type) {
  std::string dir = "tinyshakes-llama/";
  auto model = compile(
      test::sharedFile(dir + "tinyshakes-llama-" + type + ".gguf"), true);
  if (!model)
    return {1e9, 0};
  auto ids = readIds(test::sharedFile(dir + "reference/val128-" + type + ".ids"));
  auto expected =
      readFloats(test::sharedFile(dir + "reference/val128-" + type + ".logits"));
  EXPECT_EQ(ids.size(), 128u);
  EXPECT_EQ(expected.size(), 128u * 1000u);
  auto logits = model->executor->prefill(ids, 0);
  EXPECT_TRUE(logits.ok()) << logits.error().message;
  if (!logits.ok())
    return {1e9, 0};
  EXPECT_EQ(logits->size(), expected.size());
  LogitComparison result;
  size_t agree = 0, vocab = 1000;
  for (size_t row = 0; row < ids.size(); ++row) {
    const float *ours = logits->data() + row * vocab;
    const float *theirs = expected.data() + row * vocab;
    double rowMax = 0;
    for (size_t v = 0; v < vocab; ++v)
      rowMax = std::max(rowMax, double(std::fabs(ours[v] - theirs[v])));
    result.maxAbsError = std::max(result.maxAbsError, rowMax);
    agree += std::max_element(ours, ours + vocab) - ours ==
             std::max_element(theirs, theirs + vocab) - theirs;
  }
  result.top1Agreement = double(agree) / ids.size();
  return result;
}

// The shared references were made by llama.cpp c392e509 on another
// machine, whose build adds in other orders than the same llama.cpp built
// here (x86-64 AVX2, GCC): that build lands 4.64e-3 (f32), 7.4e-3 (f16),
// 0.070 (q8_0), 0.014 (q4_0), 0.068 (q4_k_m) from these references
// (1.9e-6 already at the first position). kiln reproduces the AVX2 build
// bit for bit (next test), so it lands exactly as far. The compiler-core
// issue's 2e-3 for f32 is below what llama.cpp itself reaches here.
TEST(CpuForward, F32LogitsMatchLlamaCpp) {
  LogitComparison c = compareWithReference("f32");
  printf("f32: max |logit error| %.4g, top-1 agreement %.4f\n", c.maxAbsError,
         c.top1Agreement);
  EXPECT_LE(c.maxAbsError, 5e-3);
  EXPECT_GE(c.top1Agreement, 0.99);
  RecordProperty("max_abs_error", std::to_string(c.maxAbsError));
}

// Quantized weights against the shared references (see above): measured
// 2026-11-29, equal to llama.cpp-built-here's distance: f16 7.4e-3, q8_0
// 0.070, q4_0 0.014, q4_k_m 0.068; top-1 100% each.
TEST(CpuForward, QuantizedLogitsAgreeWithLlamaCpp) {
  struct Case {
    const char *type;
    double maxError;
  };
  for (Case c : {Case{"f16", 0.02}, Case{"q8_0", 0.15}, Case{"q4_0", 0.05},
                 Case{"q4_k_m", 0.15}}) {
    SCOPED_TRACE(c.type);
    LogitComparison result = compareWithReference(c.type);
    printf("%s: max |logit error| %.4g, top-1 agreement %.4f\n", c.type,
           result.maxAbsError, result.top1Agreement);
    EXPECT_LE(result.maxAbsError, c.maxError);
    EXPECT_GE(result.top1Agreement, 0.99);
  }
}

uint64_t fingerprint(std::span<const float> values) {
  uint64_t hash = 0xcbf29ce484222325ull;
  auto *bytes = reinterpret_cast<const unsigned char *>(values.data());
  for (size_t i = 0; i < values.size_bytes(); ++i)
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

// tinyshakes-llama in bf16, written by kiln quantize (byte-identical to
// llama-quantize's BF16 of the f32 file) into the temp folder.
std::string bf16Model() {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("kiln-test-bf16-" + std::to_string(::getpid()) + ".gguf"))
                         .string();
  auto input = GgufFile::open(test::sharedFile("tinyshakes-llama/tinyshakes-llama-f32.gguf"));
  EXPECT_TRUE(input.ok());
  QuantizeOptions options;
  options.recipe = *findRecipe("bf16");
  auto plan = planQuantization(*input, options.recipe, options.recipeOptions);
  EXPECT_TRUE(plan.ok());
  Status written = writeQuantized(*input, *plan, options, path);
  EXPECT_TRUE(written.ok()) << written.message();
  return path;
}

// Bit for bit against llama.cpp built on an AVX2 machine
// (tests/data/llamacpp-avx2-val128.txt): 128 x 1000 logits of one batch,
// for every type of the shared tinyshakes-llama files and bf16 (kiln
// emulates llama.cpp's summation orders, its exp, its q4_0 repacking).
TEST(CpuForward, LogitsBitIdenticalToLlamaCppAvx2) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/data/llamacpp-avx2-val128.txt");
  ASSERT_TRUE(in);
  auto ids = readIds(test::sharedFile("tinyshakes-llama/reference/val128-f32.ids"));
  size_t checked = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream fields(line);
    std::string type, hex;
    fields >> type >> hex;
    SCOPED_TRACE(type);
    std::string path = type == "bf16" ? bf16Model()
                                      : test::sharedFile("tinyshakes-llama/tinyshakes-llama-" +
                                                         type + ".gguf");
    auto model = compile(path, true);
    if (type == "bf16")
      std::filesystem::remove(path); // mapped: the data stays until unmapped
    ASSERT_NE(model, nullptr);
    auto logits = model->executor->prefill(ids, 0);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    EXPECT_EQ(fingerprint(*logits), std::stoull(hex, nullptr, 16));
    ++checked;
  }
  EXPECT_EQ(checked, 13u);
}

// --numerics fast (q4_K, q6_K, q8_0 sixteen columns at a time, each block's integers
// summed whole): the byte dots differ between ISA levels (512-bit
// vpdpbusd, 256-bit, vpmaddubsw + vpmaddwd) but their integers do not, and
// the float steps are the same, so every level gives the same logits; and
// those are no further from the f32 model's than the exact mode's.
TEST(CpuForward, FastNumericsSameOnEveryIsaAndAsAccurate) {
  auto ids = readIds(test::sharedFile("tinyshakes-llama/reference/val128-f32.ids"));
  auto f32 = compile(test::sharedFile("tinyshakes-llama/tinyshakes-llama-f32.gguf"), true);
  ASSERT_NE(f32, nullptr);
  auto reference = f32->executor->prefill(ids, 0);
  ASSERT_TRUE(reference.ok());
  for (const char *type : {"q4_k_m", "q6_k", "q8_0"}) {
    SCOPED_TRACE(type);
    std::string path = test::sharedFile(std::string("tinyshakes-llama/tinyshakes-llama-") +
                                        type + ".gguf");
    auto fast = compile(path, true, 2, true, true, "", codegen::Numerics::Fast);
    auto avx2 =
        compile(path, true, 2, true, true, "-avx512f,-avxvnni", codegen::Numerics::Fast);
    auto exact = compile(path, true);
    ASSERT_TRUE(fast && avx2 && exact);
    auto a = fast->executor->prefill(ids, 0);
    auto b = avx2->executor->prefill(ids, 0);
    auto c = exact->executor->prefill(ids, 0);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    ASSERT_EQ(a->size(), b->size());
    EXPECT_EQ(0, std::memcmp(a->data(), b->data(), a->size() * sizeof(float)));
    // Not the exact mode's logits (so the fast kernels ran), and no
    // further from the f32 model's than they are (the same integers, other
    // roundings: a last-bit difference moves some activations by a q8
    // rounding step, either way).
    double fastToExact = 0, fastToF32 = 0, exactToF32 = 0;
    for (size_t i = 0; i < a->size(); ++i) {
      fastToExact += std::abs((*a)[i] - (*c)[i]);
      fastToF32 += std::abs((*a)[i] - (*reference)[i]);
      exactToF32 += std::abs((*c)[i] - (*reference)[i]);
    }
    const double n = double(a->size());
    EXPECT_GT(fastToExact, 0.0);
    EXPECT_LE(fastToF32, 1.05 * exactToF32);
    std::printf("%s mean |logit difference|: fast to exact %g, to f32 fast %g, exact %g\n",
                type, fastToExact / n, fastToF32 / n, exactToF32 / n);
  }
}

// The kernels for AVX-512 and VNNI (vpdpbusd: four byte products summed
// into 32 bits at once, where AVX2 takes vpmaddubsw + vpmaddwd; 512-bit
// vectors holding more output columns) compute the same integers and the
// same float operations per output, so the same logits bit for bit as the
// AVX2 kernels.
TEST(CpuForward, Avx512AndVnniGiveTheAvx2Logits) {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (!features.lookup("avx512f") && !features.lookup("avxvnni"))
    GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX-VNNI: only the AVX2 kernels run";
  auto ids = readIds(test::sharedFile("tinyshakes-llama/reference/val128-f32.ids"));
  for (const char *type :
       {"f32", "f16", "q4_0", "q4_1", "q5_0", "q8_0", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m",
        "q6_k"}) {
    SCOPED_TRACE(type);
    std::string path = test::sharedFile(std::string("tinyshakes-llama/tinyshakes-llama-") +
                                        type + ".gguf");
    auto host = compile(path, true);
    auto avx2 = compile(path, true, 2, true, true, "-avx512f,-avxvnni");
    ASSERT_NE(host, nullptr);
    ASSERT_NE(avx2, nullptr);
    auto a = host->executor->prefill(ids, 0);
    auto b = avx2->executor->prefill(ids, 0);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    EXPECT_EQ(0, std::memcmp(a->data(), b->data(), a->size() * sizeof(float)));
  }
}

// The integer dot products against the float path (the same q8-quantized
// activations dequantized, weights decoded by the block vectors and
// multiplied in f32). These files reach every unpacking path (signed and
// unsigned 32-blocks, fifth bits, q2_K..q6_K in the K-quant mixes). At
// the first position only float rounding separates the two (measured
// <= 6e-6), except for q5_1, whose min term uses q8_1's s = f16(d * sum q)
// like llama.cpp (0.03).
// Later, a last-bit difference sometimes flips one q8 rounding and moves
// logits by up to ~0.15 (measured), without changing the argmax. Without
// AVX2, generic vector IR replaces vpmaddubsw/vpmaddwd/vpsignb and must give
// the same numbers.
TEST(CpuForward, IntegerDotsEqualFloatDots) {
  for (const char *type : {"q4_0", "q5_1", "q8_0", "q2_k", "q3_k_m", "q5_k_m", "q6_k"}) {
    SCOPED_TRACE(type);
    std::string path = test::sharedFile(std::string("tinyshakes-llama/tinyshakes-llama-") +
                                        type + ".gguf");
    auto integer = compile(path, true);
    auto floating = compile(path, true, 2, true, /*integerDots=*/false);
    auto generic = compile(path, true, 2, true, true, "+avx,+fma,+f16c,-avx2");
    ASSERT_NE(integer, nullptr);
    ASSERT_NE(floating, nullptr);
    ASSERT_NE(generic, nullptr);
    auto ids = readIds(test::sharedFile("tinyshakes-llama/reference/val128-q8_0.ids"));
    ids.resize(32);
    auto a = integer->executor->prefill(ids, 0);
    ASSERT_TRUE(a.ok()) << a.error().message;
    std::vector<float> first(a->begin(), a->end());
    auto withoutAvx2 = generic->executor->prefill(ids, 0);
    ASSERT_TRUE(withoutAvx2.ok()) << withoutAvx2.error().message;
    double genericWorst = 0;
    for (size_t i = 0; i < first.size(); ++i)
      genericWorst = std::max(genericWorst, double(std::fabs(first[i] - (*withoutAvx2)[i])));
    EXPECT_EQ(genericWorst, 0.0);
    auto b = floating->executor->prefill(ids, 0);
    ASSERT_TRUE(b.ok()) << b.error().message;
    double firstRow = 0, worst = 0;
    size_t agree = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      const float *x = first.data() + t * 1000, *y = b->data() + t * 1000;
      for (size_t v = 0; v < 1000; ++v) {
        double difference = std::fabs(x[v] - y[v]);
        worst = std::max(worst, difference);
        if (t == 0)
          firstRow = std::max(firstRow, difference);
      }
      agree += std::max_element(x, x + 1000) - x == std::max_element(y, y + 1000) - y;
    }
    printf("%s: integer vs float dots: max |logit difference| %.2g at the first "
           "position, %.2g over 32; top-1 %zu/%zu; without AVX2 %.2g\n",
           type, firstRow, worst, agree, ids.size(), genericWorst);
    bool withMin = std::string(type) == "q5_1";
    EXPECT_LE(firstRow, withMin ? 0.1 : 2e-5);
    EXPECT_LE(worst, 0.3);
    EXPECT_GE(agree, ids.size() - 1);
  }
}

// Evaluating n tokens in one prefill and one at a time through decode
// gives the same logits, up to float reassociation (the two paths sum in
// different orders). With an f32 KV cache and f32 activations: rounding to
// f16 or q8 would turn such last-bit differences into whole steps.
TEST(CpuForward, PrefillEqualsStepwiseDecode) {
  auto model = compile(test::sharedFile(
                           "tinyshakes-llama/tinyshakes-llama-q8_0.gguf"),
                       true, 2, /*llamaCppNumerics=*/false);
  ASSERT_NE(model, nullptr);
  auto ids = readIds(test::sharedFile(
      "tinyshakes-llama/reference/val128-q8_0.ids"));
  ids.resize(24);
  auto batch = model->executor->prefill(ids, 0);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  std::vector<float> all(batch->begin(), batch->end());
  double worst = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto step = model->executor->decode(ids[i], int64_t(i));
    ASSERT_TRUE(step.ok()) << step.error().message;
    for (size_t v = 0; v < 1000; ++v)
      worst = std::max(worst, double(std::fabs((*step)[v] - all[i * 1000 + v])));
  }
  EXPECT_LE(worst, 1e-4);
}

TEST(CpuForward, RejectsBadCalls) {
  auto model = compile(test::sharedFile(
                           "tinyshakes-llama/tinyshakes-llama-q4_0.gguf"),
                       false);
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> outside = {1, 5000};
  auto bad = model->executor->prefill(outside, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("token id 5000 is outside the vocabulary"),
            std::string::npos);
  auto full = model->executor->decode(1, 256);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("the context is full"), std::string::npos);
  EXPECT_FALSE(model->executor->prefill({}, 0).ok());
}

} // namespace
} // namespace kiln

#include <nlohmann/json.hpp>

namespace kiln {
namespace {

// Greedy continuations (argmax at each step, prompt ids as llama.cpp
// tokenized them) compared with llama.cpp's, token by token.
size_t greedyAgreement(const std::string &modelPath,
                       const std::vector<int32_t> &prompt,
                       const std::vector<int32_t> &expected) {
  auto model = compile(modelPath, false, 2);
  if (!model)
    return 0;
  auto logits = model->executor->prefill(prompt, 0);
  EXPECT_TRUE(logits.ok()) << logits.error().message;
  size_t matched = 0;
  int64_t position = prompt.size();
  for (int32_t want : expected) {
    if (!logits.ok())
      break;
    auto argmax = std::max_element(logits->begin(), logits->end());
    int32_t token = int32_t(argmax - logits->begin());
    if (token != want) {
      // How close the call was: our logits of our token and llama.cpp's.
      printf("  diverges at %zu: ours %d (%.5f), llama.cpp's %d (%.5f)\n", matched,
             token, double(*argmax), want, double((*logits)[want]));
      break;
    }
    ++matched;
    logits = model->executor->decode(token, position++);
  }
  return matched;
}

// Every model, quantized or not, reproduces every token: kiln's kernels
// compute what llama.cpp's x86 path computes, bit for bit (see
// LogitsBitIdenticalToLlamaCppAvx2), and the greedy references were made
// by a llama.cpp build that agrees with that one on them.
void checkGreedyFile(const std::string &folder) {
  auto path = test::sharedModelsDir() / folder / "reference" / "greedy.json";
  if (!std::filesystem::exists(path))
    path = test::sharedModelsDir() / folder / "greedy.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  auto json = nlohmann::json::parse(in);
  size_t cases = 0;
  for (const auto &result : json["results"]) {
    std::string name = result["model"];
    auto prompt = result["prompt_ids"].get<std::vector<int32_t>>();
    auto expected = result["greedy_ids"].get<std::vector<int32_t>>();
    size_t matched = greedyAgreement(test::sharedFile(folder + "/" + name),
                                     prompt, expected);
    printf("%-32s %3zu prompt ids: %zu/%zu greedy tokens equal\n",
           name.c_str(), prompt.size(), matched, expected.size());
    EXPECT_EQ(matched, expected.size()) << name << " prompt " << result["prompt"];
    ++cases;
  }
  EXPECT_GT(cases, 0u);
}

TEST(CpuGreedy, TinyshakesLlamaMatchesLlamaCpp) {
  checkGreedyFile("tinyshakes-llama");
}

TEST(CpuGreedy, ForeignTinyRandomLlamaMatchesLlamaCpp) {
  checkGreedyFile("llama-2-tiny-random");
}

TEST(CpuGreedy, TinyshakesGpt2MatchesLlamaCpp) {
  checkGreedyFile("tinyshakes-gpt2");
}

} // namespace
} // namespace kiln

namespace kiln {
namespace {

// The second compilation of the same model loads the kernels from the
// cache, and they compute the same logits.
TEST(CpuJitCache, SecondCompileIsACacheHitWithTheSameResults) {
  test::TempDir dir;
  auto file = GgufFile::open(
      test::sharedFile("tinyshakes-llama/tinyshakes-llama-q4_0.gguf"));
  ASSERT_TRUE(file.ok());
  codegen::CompileOptions options;
  options.cacheDir = (dir.path() / "cache").string();
  std::vector<float> first;
  for (bool expectHit : {false, true}) {
    auto program = codegen::compile(*file, options);
    ASSERT_TRUE(program.ok()) << program.error().message;
    EXPECT_EQ(program->cpuJit()->cacheHit(), expectHit);
    runtime::ThreadPool pool(2);
    auto executor = codegen::makeExecutor(*program, *file, pool);
    ASSERT_TRUE(executor.ok()) << executor.error().message;
    std::vector<int32_t> prompt = {1, 826, 959};
    auto logits = (*executor)->prefill(prompt, 0);
    ASSERT_TRUE(logits.ok());
    if (!expectHit)
      first.assign(logits->begin(), logits->end());
    else
      EXPECT_TRUE(std::equal(first.begin(), first.end(), logits->begin()));
  }
  size_t entries = 0;
  for (auto &entry : std::filesystem::directory_iterator(dir.path() / "cache"))
    entries += entry.path().extension() == ".o";
  EXPECT_EQ(entries, 1u);
}

} // namespace
} // namespace kiln
