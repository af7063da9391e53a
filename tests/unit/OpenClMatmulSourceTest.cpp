// The OpenCL C matmul source: the argument count and launch of every
// variant the plan produces, errors that name what is unsupported, and,
// where clang-15 is installed, that the generated program parses as
// OpenCL C 1.2 (no cl_khr_fp16, no subgroups).
#include "codegen/opencl/OpenClSource.h"

#include "codegen/QuantizedActivations.h"

#include "TestData.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace kiln::codegen::opencl {
namespace {

const GgmlType kDecodable[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
    GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K,
    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

KernelDesc matmul(GgmlType weights, GgmlType activations, int64_t K, int64_t N) {
  KernelDesc d;
  d.kind = KernelKind::Matmul;
  d.cols = K;
  d.outCols = N;
  d.format = weights;
  d.matmul.activations = activations;
  MatmulPart part;
  part.format = weights;
  part.rows = N;
  d.matmul.parts.push_back(part);
  return d;
}

DeviceFacts pocl() {
  DeviceFacts facts;
  facts.maxWorkGroup = 4096;
  facts.localMemBytes = 4 << 20;
  return facts;
}

// q, k, v: bias on each, rope on q and k.
KernelDesc qkv(GgmlType weights, GgmlType activations) {
  KernelDesc d = matmul(weights, activations, 256, 64);
  d.matmul.parts[0].hasBias = d.matmul.hasBias = true;
  d.matmul.parts[0].rope = true;
  MatmulPart k = d.matmul.parts[0];
  k.rows = 32;
  MatmulPart v = k;
  v.rope = false;
  d.matmul.parts.push_back(k);
  d.matmul.parts.push_back(v);
  d.rope.headDim = 16;
  d.rope.ropeDims = 16;
  d.rope.freqBase = 10000.0f;
  d.rope.freqScale = 1.0f;
  return d;
}

KernelDesc swiglu(GgmlType gate, GgmlType up, GgmlType activations) {
  KernelDesc d = matmul(gate, activations, 256, 45);
  MatmulPart part = d.matmul.parts[0];
  part.format = up;
  d.matmul.parts.push_back(part);
  d.matmul.epilogue = MatmulEpilogue::SwiGlu;
  d.matmul.residual = true;
  return d;
}

TEST(OpenClMatmulSource, DecodesExactlyTheCpuFormats) {
  for (GgmlType type : kDecodable)
    EXPECT_TRUE(decodableByOpenCl(type)) << ggmlTypeInfo(type).name;
  for (GgmlType type : {GgmlType::IQ4_NL, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::IQ2_XXS,
                        GgmlType::TQ1_0, GgmlType::I8})
    EXPECT_FALSE(decodableByOpenCl(type)) << ggmlTypeInfo(type).name;
  std::string preamble = weightDecodePreamble();
  for (GgmlType type : kDecodable) {
    std::string name(ggmlTypeInfo(type).name);
    for (char &c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_NE(preamble.find("float kiln_load_" + name + "(__global const uchar *row, long k)"),
              std::string::npos)
        << name;
  }
}

TEST(OpenClMatmulSource, ArgumentsFollowThePlanStep) {
  // x, w, out
  auto plain = emitMatmulSource(matmul(GgmlType::Q8_0, GgmlType::Q8_0, 512, 37), "m", pocl());
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain.value().argCount, 3u);
  EXPECT_TRUE(plain.value().launch.perRow);
  // Two columns a work-item (integer and plain float dots: one item a
  // column pair, in the CPU's order) or a work-group (the other float dots).
  auto covers = [](const KernelSource &k, int64_t pairs) {
    return k.launch.groups * k.launch.local >= pairs &&
           (k.launch.groups - 1) * k.launch.local < pairs;
  };
  EXPECT_TRUE(covers(plain.value(), 19));
  uint32_t local = plain.value().launch.local;
  EXPECT_EQ(local & (local - 1), 0u);
  EXPECT_NE(plain.value().text.find(kernelSignature("m", 3)), std::string::npos);

  // x, (w, b) x 3, q out, k out, v out
  auto x3 = emitMatmulSource(qkv(GgmlType::F16, GgmlType::F32), "m", pocl());
  ASSERT_TRUE(x3) << x3.error().message;
  EXPECT_EQ(x3.value().argCount, 10u);
  EXPECT_TRUE(covers(x3.value(), 32 + 16 + 16));
  EXPECT_NE(x3.value().text.find("kiln_rope_cos_sin(position + t"), std::string::npos);

  // x, gate, up, residual, one output
  auto glu = emitMatmulSource(swiglu(GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_K), "m", pocl());
  ASSERT_TRUE(glu) << glu.error().message;
  EXPECT_EQ(glu.value().argCount, 5u);
  EXPECT_TRUE(covers(glu.value(), 23));
  // f32 rows against quantized weights: a work-group per column pair.
  auto tree = emitMatmulSource(matmul(GgmlType::Q4_K, GgmlType::F32, 512, 37), "m", pocl());
  ASSERT_TRUE(tree) << tree.error().message;
  EXPECT_EQ(tree.value().launch.groups, 19);

  // x, w, b, residual, out
  KernelDesc gelu = matmul(GgmlType::F32, GgmlType::F32, 128, 30);
  gelu.matmul.parts[0].hasBias = gelu.matmul.hasBias = true;
  gelu.matmul.epilogue = MatmulEpilogue::Gelu;
  gelu.matmul.residual = true;
  auto g = emitMatmulSource(gelu, "m", pocl());
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g.value().argCount, 5u);
}

TEST(OpenClMatmulSource, ErrorsNameTheType) {
  auto iq4 = emitMatmulSource(matmul(GgmlType::IQ4_NL, GgmlType::F32, 256, 4), "m", pocl());
  ASSERT_FALSE(iq4);
  EXPECT_NE(iq4.error().message.find("iq4_nl"), std::string::npos) << iq4.error().message;
  // q4_K weights read q8_K rows, not q8_0.
  auto mismatch = emitMatmulSource(matmul(GgmlType::Q4_K, GgmlType::Q8_0, 256, 4), "m", pocl());
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("q4_k"), std::string::npos)
      << mismatch.error().message;
  auto partial = emitMatmulSource(matmul(GgmlType::Q6_K, GgmlType::F32, 300, 4), "m", pocl());
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message.find("q6_k"), std::string::npos) << partial.error().message;
}

// Every variant and type through clang-15's OpenCL C 1.2 front end.
TEST(OpenClMatmulSource, ParsesAsOpenClC12) {
  if (std::system("command -v clang-15 >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "clang-15 is not installed";
  DeviceFacts facts = pocl();
  std::string program = commonPreamble(facts) + weightDecodePreamble() +
                        "float2 kiln_rope_cos_sin(long position, int pair, int ropeDims, "
                        "float freqBase, float freqScale);\n";
  int count = 0;
  auto add = [&](const KernelDesc &d) {
    auto source = emitMatmulSource(d, "kiln_" + std::to_string(count++) + "_matmul", facts);
    ASSERT_TRUE(source) << source.error().message;
    program += source.value().text;
  };
  for (GgmlType type : kDecodable) {
    add(matmul(type, GgmlType::F32, 512, 37));
    if (auto activations = integerDotActivations(type))
      add(matmul(type, *activations, 512, 37));
  }
  add(qkv(GgmlType::Q8_0, GgmlType::Q8_0));
  add(qkv(GgmlType::F32, GgmlType::F32));
  add(swiglu(GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_K));
  add(swiglu(GgmlType::F16, GgmlType::F16, GgmlType::F32));
  KernelDesc gelu = matmul(GgmlType::Q8_0, GgmlType::Q8_0, 128, 30);
  gelu.matmul.parts[0].hasBias = gelu.matmul.hasBias = true;
  gelu.matmul.epilogue = MatmulEpilogue::Gelu;
  gelu.matmul.residual = true;
  add(gelu);
  test::TempDir temp;
  std::string path = temp.file("matmul.cl");
  std::ofstream(path) << program;
  std::string command = "clang-15 -x cl -cl-std=CL1.2 -Xclang -finclude-default-header "
                        "-fsyntax-only -Werror=implicit-function-declaration " +
                        path + " 2>" + temp.file("errors.txt");
  int status = std::system(command.c_str());
  std::ifstream errors(temp.file("errors.txt"));
  std::string text{std::istreambuf_iterator<char>(errors), {}};
  EXPECT_EQ(status, 0) << text;
}

} // namespace
} // namespace kiln::codegen::opencl
