// Matmul kernels in OpenCL C: every variant the plan produces (one weight;
// several weights reading one input, each with its output; per-part bias
// and rope; SwiGLU and GELU epilogues; a residual), on f32 input rows
// (float dots of decoded weights) or q8_0/q8_K rows (integer dots per
// 32-element chunk, QuantizedActivations.h).
//
// Schedule (baseline, no subgroups): a work-group computes two adjacent
// output columns of one part (SwiGLU: of the gate and the up weight) for
// one input row (dimension 1); two columns a group keep a rope pair (even,
// odd column) together, so the rotation happens before the store.
// - q8 rows (integer dots) and f32 rows against f32/f16/bf16 weights of
//   whole vectors: one work-item per group runs each column's dot in the
//   CPU kernels' order (kiln_xdot_*; the plain matmul's lanes), so the
//   sums are the CPU's bit for bit.
// - otherwise (f32 rows against quantized weights, integer dots off; K not
//   a multiple of 8): `local` items sum strided shares of the row, then a
//   tree reduction in local memory; item 0 applies the epilogue.
//
// The arithmetic is the CPU kernels' (codegen/cpu/MatmulEmitter.cpp) up
// to the order of float additions: the same decoded weights, exact integer
// sums per chunk scaled by the same floats, bias, then GELU, then the
// residual; SwiGLU's silu(gate) * up; rope after the epilogue.

#include "codegen/opencl/OpenClSource.h"

#include "codegen/QuantizedActivations.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace kiln::codegen::opencl {

namespace {

constexpr int64_t kColumnsPerGroup = 2;

std::string typeName(GgmlType type) {
  std::string name(ggmlTypeInfo(type).name);
  for (char &c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string lit(int64_t v) { return std::to_string(v) + "L"; }

// A float literal that reads back as exactly `v`.
std::string floatLit(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9ef", static_cast<double>(v));
  return buf;
}

// The largest power of two <= n (n >= 1).
uint32_t powerOfTwoAtMost(uint64_t n) {
  uint32_t p = 1;
  while (p * 2ull <= n && p < (1u << 30))
    p *= 2;
  return p;
}

struct PartArgs {
  int weight = 0;
  int bias = -1;
  int out = -1;
};

} // namespace

Result<KernelSource> emitMatmulSource(const KernelDesc &d, const std::string &name,
                                      const DeviceFacts &facts) {
  if (d.kind != KernelKind::Matmul)
    return makeError("emitMatmulSource: ", kernelKindName(d.kind), " is not a matmul");
  if (d.matmul.parts.empty())
    return makeError("OpenCL matmul ", name, ": no weights");
  const int64_t K = d.cols;
  if (K <= 0)
    return makeError("OpenCL matmul ", name, ": input width ", std::to_string(K));
  bool swiglu = d.matmul.epilogue == MatmulEpilogue::SwiGlu;
  if (swiglu && (d.matmul.parts.size() != 2 || d.matmul.parts[0].rows != d.matmul.parts[1].rows))
    return makeError("OpenCL matmul ", name,
                     ": SwiGLU needs two weights of the same output width");
  bool quantized = d.matmul.activations != GgmlType::F32;
  if (quantized && d.matmul.activations != GgmlType::Q8_0 && d.matmul.activations != GgmlType::Q8_K)
    return makeError("the OpenCL matmul has no kernel for ", typeName(d.matmul.activations),
                     " activations");
  for (const MatmulPart &part : d.matmul.parts) {
    std::string type = typeName(part.format);
    if (!decodableByOpenCl(part.format))
      return makeError("the OpenCL matmul has no kernel for ", type, " weights");
    if (part.layout != runtime::WeightLayout::Gguf)
      return makeError("the OpenCL matmul reads weights in their GGUF blocks, not in layout ",
                       std::string(runtime::weightLayoutName(part.layout)));
    if (part.rows <= 0)
      return makeError("OpenCL matmul ", name, ": a weight of ", std::to_string(part.rows),
                       " rows");
    int64_t block = ggmlTypeInfo(part.format).blockSize;
    if (K % block != 0)
      return makeError("OpenCL matmul: ", type, " rows of ", std::to_string(K),
                       " elements are not whole blocks of ", std::to_string(block));
    if (quantized && integerDotActivations(part.format) != d.matmul.activations)
      return makeError("the OpenCL matmul has no integer dot of ", type, " weights with ",
                       typeName(d.matmul.activations), " activations");
    if (part.rope) {
      if (swiglu)
        return makeError("OpenCL matmul ", name, ": rope with SwiGLU");
      if (d.rope.headDim <= 0 || d.rope.headDim % 2 != 0 || part.rows % d.rope.headDim != 0 ||
          d.rope.ropeDims <= 0 || d.rope.ropeDims > d.rope.headDim || d.rope.ropeDims % 2 != 0)
        return makeError("OpenCL matmul ", name, ": rope of ", std::to_string(d.rope.ropeDims),
                         " dimensions over heads of ", std::to_string(d.rope.headDim));
    }
  }
  if (quantized && K % quantizedRowLayout(d.matmul.activations, K).block != 0)
    return makeError("OpenCL matmul: ", typeName(d.matmul.activations), " rows of ",
                     std::to_string(K), " elements are not whole blocks");

  // Arguments in the plan's order: x, per part weight [bias], [residual],
  // outputs (one per part; one for SwiGLU).
  std::vector<PartArgs> args(d.matmul.parts.size());
  int index = 1;
  for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
    args[p].weight = index++;
    if (d.matmul.parts[p].hasBias)
      args[p].bias = index++;
  }
  int residual = d.matmul.residual ? index++ : -1;
  for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
    if (swiglu && p > 0)
      args[p].out = args[0].out;
    else
      args[p].out = index++;
  }

  // Work-items per group: enough for the row's units of work, a power of
  // two for the tree, within the device's limit.
  int64_t units = quantized ? K / 32 : (K % 8 == 0 ? K / 8 : K);
  uint32_t local = powerOfTwoAtMost(std::max<uint64_t>(1, std::min<uint64_t>(
                                        facts.maxWorkGroup ? facts.maxWorkGroup : 1, 64)));
  while (local > 16 && local / 2 >= units)
    local /= 2;
  // f32/f16/bf16 weights on f32 rows of whole vectors: the CPU's plain
  // matmul, whose order one item per column reproduces.
  bool exactFloat = !quantized && K % 8 == 0;
  for (const MatmulPart &part : d.matmul.parts)
    exactFloat = exactFloat && (part.format == GgmlType::F32 || part.format == GgmlType::F16 ||
                                part.format == GgmlType::BF16);
  // Exact: each item computes its column pair alone (no barriers), in
  // groups of kExactItems items.
  const bool exact = quantized || exactFloat;
  constexpr uint32_t kExactItems = 16;
  if (exact)
    local = std::min<uint32_t>(kExactItems, powerOfTwoAtMost(std::max<uint64_t>(1, facts.maxWorkGroup)));
  int64_t dots = swiglu ? 2 * kColumnsPerGroup : kColumnsPerGroup;
  if (facts.localMemBytes != 0 &&
      static_cast<uint64_t>(local * dots * 4) > facts.localMemBytes)
    return makeError("OpenCL matmul ", name, ": ", std::to_string(local * dots * 4),
                     " bytes of local memory, the device has ",
                     std::to_string(facts.localMemBytes));
  const std::string L = std::to_string(local);
  const std::string pre = name + "_";

  std::string s;

  // f32/f16/bf16 rows of whole vectors are read eight elements at a time.
  auto eightWide = [&](GgmlType format) {
    return !quantized && K % 8 == 0 &&
           (format == GgmlType::F32 || format == GgmlType::F16 || format == GgmlType::BF16);
  };
  // The sum of one output column over this item's share of the row.
  auto columnSum = [&](const MatmulPart &part, const std::string &row,
                       const std::string &acc) {
    std::string type = typeName(part.format);
    if (quantized) {
      // One item per column, in the CPU kernels' order (kiln_xdot_*).
      std::string blocks = lit(K / ggmlTypeInfo(part.format).blockSize);
      if (part.format == GgmlType::Q4_0 && part.rows % 8 == 0)
        return "    for (long b = 0; b < " + blocks + "; ++b)\n      " + acc +
               " = kiln_xdot_q4_0_total(" + row + ", b, xq, xd, " + acc + ");\n";
      return "    {\n      float8 lanes = (float8)(0.0f);\n      float4 offsets = (float4)(0.0f);\n"
             "      for (long b = 0; b < " + blocks + "; ++b)\n        kiln_xdot_" + type + "(" +
             row + ", b, xq, xd, xe, &lanes, &offsets);\n      " + acc +
             " = kiln_xdot_result(lanes, offsets);\n    }\n";
    }
    if (exactFloat) {
      // One item per column in the CPU's plain-matmul order: one token,
      // four 8-lane accumulators over chunks of 32, folded, lanes added
      // adjacent, the rest of K one product at a time; many tokens, one
      // 8-lane accumulator over K, lanes added interleaved.
      std::string load = "kiln_load8_" + type + "(" + row + ", ";
      std::string r = "    if (rows == 1) {\n"
                      "      float8 a0 = (float8)(0.0f), a1 = a0, a2 = a0, a3 = a0;\n"
                      "      for (long c = 0; c < " + lit(K / 32 * 4) + "; c += 4) {\n";
      for (int a = 0; a < 4; ++a) {
        std::string at = "c + " + std::to_string(a);
        std::string v = "a" + std::to_string(a);
        r += "        " + v + " = fma(vload8(" + at + ", xf), " + load + at + "), " + v + ");\n";
      }
      r += "      }\n"
           "      float8 f = (a0 + a2) + (a1 + a3);\n"
           "      float sum = ((f.s0 + f.s4) + (f.s1 + f.s5)) + ((f.s2 + f.s6) + (f.s3 + f.s7));\n"
           "      for (long k = " + lit(K / 32 * 32) + "; k < " + lit(K) + "; ++k)\n"
           "        sum = sum + xf[k] * kiln_load_" + type + "(" + row + ", k);\n"
           "      " + acc + " = sum;\n"
           "    } else {\n"
           "      float8 a = (float8)(0.0f);\n"
           "      for (long c = 0; c < " + lit(K / 8) + "; ++c)\n"
           "        a = fma(vload8(c, xf), " + load + "c), a);\n"
           "      " + acc + " = ((a.s0 + a.s4) + (a.s2 + a.s6)) + ((a.s1 + a.s5) + (a.s3 + a.s7));\n"
           "    }\n";
      return r;
    }
    if (eightWide(part.format))
      return "    {\n      float8 lanes = (float8)(0.0f);\n"
             "      for (long c = lid; c < " + lit(K / 8) + "; c += " + L + ")\n"
             "        lanes = fma(vload8(c, xf), kiln_load8_" + type + "(" + row + ", c), lanes);\n"
             "      " + acc + " = ((lanes.s0 + lanes.s4) + (lanes.s2 + lanes.s6)) + "
             "((lanes.s1 + lanes.s5) + (lanes.s3 + lanes.s7));\n    }\n";
    return "    for (long k = lid; k < " + lit(K) + "; k += " + L + ")\n      " + acc +
           " = fma(xf[k], kiln_load_" + type + "(" + row + ", k), " + acc + ");\n";
  };
  // The column sum i after the reduction.
  auto total = [&](int64_t i) {
    return exact ? "acc" + std::to_string(i) : "red[" + std::to_string(i * local) + "]";
  };
  auto reduce = [&](int64_t count) {
    std::string r;
    if (exact)
      return r;
    for (int64_t i = 0; i < count; ++i)
      r += "    red[" + std::to_string(i * local) + " + lid] = acc" + std::to_string(i) + ";\n";
    r += "    barrier(CLK_LOCAL_MEM_FENCE);\n"
         "    for (int step = " + std::to_string(local / 2) + "; step > 0; step >>= 1) {\n"
         "      if (lid < step) {\n";
    for (int64_t i = 0; i < count; ++i) {
      std::string base = std::to_string(i * local);
      r += "        red[" + base + " + lid] += red[" + base + " + lid + step];\n";
    }
    r += "      }\n"
         "      barrier(CLK_LOCAL_MEM_FENCE);\n"
         "    }\n";
    return r;
  };
  auto weightRow = [&](const MatmulPart &part, int weightArg, const std::string &column) {
    int64_t stride = K / ggmlTypeInfo(part.format).blockSize *
                     ggmlTypeInfo(part.format).bytesPerBlock;
    return "KILN_ARG(" + std::to_string(weightArg) + ", const uchar) + (" + column + ") * " +
           lit(stride);
  };
  // value = the sum with its bias, GELU and residual, for column `col`.
  auto finish = [&](const std::string &value, const std::string &col, int64_t N) {
    std::string v = value;
    if (d.matmul.epilogue == MatmulEpilogue::Gelu)
      v = "kiln_gelu(" + v + ")";
    if (residual >= 0)
      v = "KILN_ARG(" + std::to_string(residual) + ", const float)[t * " + lit(N) + " + " +
          col + "] + " + v;
    return v;
  };
  auto withBias = [&](const std::string &sum, const PartArgs &a, const std::string &col) {
    if (a.bias < 0)
      return sum;
    return "(" + sum + " + KILN_ARG(" + std::to_string(a.bias) + ", const float)[" + col +
           "])";
  };

  s += kernelSignature(name, static_cast<uint32_t>(index)) + " {\n";
  s += "  #pragma OPENCL FP_CONTRACT OFF\n";
  int64_t pairs = 0;
  for (const MatmulPart &part : d.matmul.parts) {
    pairs += (part.rows + kColumnsPerGroup - 1) / kColumnsPerGroup;
    if (swiglu)
      break;
  }
  if (exact) {
    s += "  const long group = (long)get_global_id(0); // the column pair\n"
         "  const long t = (long)get_global_id(1);\n"
         "  if (group >= " + lit(pairs) + ")\n    return;\n";
  } else {
    s += "  __local float red[" + std::to_string(local * dots) + "];\n";
    s += "  const int lid = (int)get_local_id(0);\n"
         "  const long group = (long)get_group_id(0);\n"
         "  const long t = (long)get_global_id(1);\n";
  }
  const std::string lead = exact ? "    {\n" : "    if (lid == 0) {\n";
  if (quantized) {
    QuantizedRowLayout layout = quantizedRowLayout(d.matmul.activations, K);
    s += "  __global const uchar *xrow = KILN_ARG(0, const uchar) + t * " +
         lit(layout.rowBytes) + ";\n"
         "  __global const char *xq = (__global const char *)xrow;\n"
         "  __global const float *xd = (__global const float *)(xrow + " +
         lit(layout.scalesOffset) + ");\n"
         "  __global const uchar *xe = xrow + " + lit(layout.extraOffset) + ";\n";
  } else {
    s += "  __global const float *xf = KILN_ARG(0, const float) + t * " + lit(K) + ";\n";
  }

  if (swiglu) {
    const MatmulPart &gate = d.matmul.parts[0], &up = d.matmul.parts[1];
    int64_t N = gate.rows;
    int64_t groups = (N + kColumnsPerGroup - 1) / kColumnsPerGroup;
    s += "  {\n"
         "    const long n = group * " + lit(kColumnsPerGroup) + ";\n"
         "    const int pair = n + 1 < " + lit(N) + ";\n"
         "    float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;\n"
         "    __global const uchar *g0 = " + weightRow(gate, args[0].weight, "n") + ";\n"
         "    __global const uchar *g1 = " + weightRow(gate, args[0].weight, "n + pair") + ";\n"
         "    __global const uchar *u0 = " + weightRow(up, args[1].weight, "n") + ";\n"
         "    __global const uchar *u1 = " + weightRow(up, args[1].weight, "n + pair") + ";\n";
    s += columnSum(gate, "g0", "acc0");
    s += "    if (pair) {\n" + columnSum(gate, "g1", "acc1") + "    }\n";
    s += columnSum(up, "u0", "acc2");
    s += "    if (pair) {\n" + columnSum(up, "u1", "acc3") + "    }\n";
    s += reduce(4);
    std::string out = "KILN_ARG(" + std::to_string(args[0].out) + ", float)";
    s += lead;
    for (int c = 0; c < 2; ++c) {
      std::string col = c == 0 ? "n" : "n + 1";
      std::string g = withBias(total(c), args[0], col);
      std::string u = withBias(total(2 + c), args[1], col);
      std::string store = "      " + out + "[t * " + lit(N) + " + " + col + "] = " +
                          finish("kiln_silu(" + g + ") * " + u, col, N) + ";\n";
      s += c == 0 ? store : "      if (pair)\n  " + store;
    }
    s += "    }\n  }\n}\n";
    KernelSource source;
    source.text = std::move(s);
    source.argCount = static_cast<uint32_t>(index);
    source.launch.local = local;
    source.launch.groups = exact ? (groups + local - 1) / local : groups;
    source.launch.perRow = true;
    return source;
  }

  int64_t groupBase = 0;
  for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
    const MatmulPart &part = d.matmul.parts[p];
    int64_t N = part.rows;
    int64_t groups = (N + kColumnsPerGroup - 1) / kColumnsPerGroup;
    std::string cond = "group < " + lit(groupBase + groups);
    s += std::string(p == 0 ? "  if (" : "  else if (") + cond + ") {\n";
    s += "    const long n = (group - " + lit(groupBase) + ") * " + lit(kColumnsPerGroup) +
         ";\n"
         "    const int pair = n + 1 < " + lit(N) + ";\n"
         "    float acc0 = 0.0f, acc1 = 0.0f;\n"
         "    __global const uchar *w0 = " + weightRow(part, args[p].weight, "n") + ";\n"
         "    __global const uchar *w1 = " + weightRow(part, args[p].weight, "n + pair") +
         ";\n";
    s += columnSum(part, "w0", "acc0");
    s += "    if (pair) {\n" + columnSum(part, "w1", "acc1") + "    }\n";
    s += reduce(2);
    std::string out = "KILN_ARG(" + std::to_string(args[p].out) + ", float)";
    s += lead;
    s += "      float v0 = " + finish(withBias(total(0), args[p], "n"), "n", N) + ";\n";
    s += "      float v1 = pair ? " +
         finish(withBias(total(1), args[p], "n + 1"), "n + 1", N) +
         " : 0.0f;\n";
    if (part.rope) {
      // Normal pairing: columns (n, n + 1) of a head are pair (n % hd) / 2,
      // rotated when it is one of the first ropeDims / 2.
      s += "      const int ropePair = (int)((n % " + lit(d.rope.headDim) + ") / 2);\n"
           "      if (ropePair < " + std::to_string(d.rope.ropeDims / 2) + ") {\n"
           "        float2 cs = kiln_rope_cos_sin(position + t, ropePair, " +
           std::to_string(d.rope.ropeDims) + ", " + floatLit(d.rope.freqBase) + ", " +
           floatLit(d.rope.freqScale) + ");\n"
           "        float x0 = v0, x1 = v1;\n"
           "        v0 = fma(x0, cs.x, -(x1 * cs.y));\n"
           "        v1 = fma(x0, cs.y, x1 * cs.x);\n"
           "      }\n";
    }
    s += "      " + out + "[t * " + lit(N) + " + n] = v0;\n"
         "      if (pair)\n"
         "        " + out + "[t * " + lit(N) + " + n + 1] = v1;\n"
         "    }\n  }\n";
    groupBase += groups;
  }
  s += "}\n";

  KernelSource source;
  source.text = std::move(s);
  source.argCount = static_cast<uint32_t>(index);
  source.launch.local = local;
  source.launch.groups = exact ? (groupBase + local - 1) / local : groupBase;
  source.launch.perRow = true;
  return source;
}

} // namespace kiln::codegen::opencl
