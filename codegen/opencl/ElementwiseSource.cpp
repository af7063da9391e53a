// Row-by-row, element-by-element kernels in OpenCL C: embedding lookup,
// positions, add/mul, SiLU/GELU, softmax, column slices, the last row. One
// work-item per element (one work-group per row for softmax), every width
// and offset a literal.

#include "codegen/opencl/OpenClSource.h"

#include <cctype>

namespace kiln::codegen::opencl {

namespace {

constexpr uint32_t kLocal = 64;

std::string n(int64_t value) { return std::to_string(value) + "L"; }

int64_t groupsFor(int64_t elements) { return (elements + kLocal - 1) / kLocal; }

std::string lowerName(GgmlType type) {
  std::string name(ggmlTypeInfo(type).name);
  for (char &c : name)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// Element c of row t, for kernels of one work-item per element.
KernelSource perElement(const std::string &name, uint32_t argCount, int64_t cols,
                        const std::string &body) {
  std::string text = kernelSignature(name, argCount) + " {\n"
                     "  const long t = get_global_id(1);\n"
                     "  const long c = get_global_id(0);\n"
                     "  if (c >= " + n(cols) + ") return;\n" + body + "}\n";
  return {text, argCount, LaunchShape{kLocal, groupsFor(cols), true}};
}

KernelSource embedding(const KernelDesc &d, const std::string &name) {
  const GgmlTypeInfo &info = ggmlTypeInfo(d.format);
  const int64_t stride = d.outCols / info.blockSize * info.bytesPerBlock;
  return perElement(name, 3, d.outCols,
                    "  const long id = KILN_ARG(1, const int)[t];\n"
                    "  __global const uchar *row = KILN_ARG(0, const uchar) + id * " +
                        n(stride) + ";\n"
                        "  KILN_ARG(2, float)[t * " + n(d.outCols) + " + c] = kiln_load_" +
                        lowerName(d.format) + "(row, c);\n");
}

KernelSource positions(const std::string &name) {
  std::string text = kernelSignature(name, 1) + " {\n"
                     "  for (long t = get_global_id(0); t < rows; t += get_global_size(0))\n"
                     "    KILN_ARG(0, int)[t] = (int)(position + t);\n"
                     "}\n";
  return {text, 1, LaunchShape{kLocal, 1, false}};
}

KernelSource binary(const KernelDesc &d, const std::string &name, bool add) {
  return perElement(name, 3, d.cols,
                    "  const long i = t * " + n(d.cols) + " + c;\n"
                    "  KILN_ARG(2, float)[i] = KILN_ARG(0, const float)[i] " +
                        (add ? "+" : "*") + " KILN_ARG(1, const float)[i];\n");
}

// SiLU and GELU as the common preamble computes them (kiln_silu,
// kiln_gelu), which the matmul epilogues share.
KernelSource unary(const KernelDesc &d, const std::string &name) {
  std::string value = d.kind == KernelKind::Silu ? "  const float y = kiln_silu(x);\n"
                                                  : "  const float y = kiln_gelu(x);\n";
  return perElement(name, 2, d.cols,
                    "  const long i = t * " + n(d.cols) + " + c;\n"
                    "  const float x = KILN_ARG(0, const float)[i];\n" + value +
                        "  KILN_ARG(1, float)[i] = y;\n");
}

KernelSource softmax(const KernelDesc &d, const std::string &name) {
  const std::string cols = n(d.cols);
  std::string text = kernelSignature(name, 2) + " {\n"
                     "  __local float scratch[" + std::to_string(kLocal) + "];\n"
                     "  const long t = get_global_id(1);\n"
                     "  const long id = get_local_id(0);\n"
                     "  __global const float *in = KILN_ARG(0, const float) + t * " + cols + ";\n"
                     "  __global float *out = KILN_ARG(1, float) + t * " + cols + ";\n"
                     "  float m = -INFINITY;\n"
                     "  for (long c = id; c < " + cols + "; c += " + std::to_string(kLocal) + ")\n"
                     "    m = fmax(m, in[c]);\n"
                     "  m = kiln_group_max(scratch, m);\n"
                     "  float s = 0.0f;\n"
                     "  for (long c = id; c < " + cols + "; c += " + std::to_string(kLocal) + ") {\n"
                     "    const float w = exp(in[c] - m);\n"
                     "    out[c] = w;\n"
                     "    s += w;\n"
                     "  }\n"
                     "  const float inverse = 1.0f / kiln_group_sum(scratch, s);\n"
                     "  for (long c = id; c < " + cols + "; c += " + std::to_string(kLocal) + ")\n"
                     "    out[c] *= inverse;\n"
                     "}\n";
  return {text, 2, LaunchShape{kLocal, 1, true}};
}

KernelSource sliceColumns(const KernelDesc &d, const std::string &name) {
  return perElement(name, 2, d.outCols,
                    "  KILN_ARG(1, float)[t * " + n(d.outCols) + " + c] = KILN_ARG(0, const "
                    "float)[t * " + n(d.cols) + " + " + n(d.slice.offset) + " + c];\n");
}

KernelSource lastRow(const KernelDesc &d, const std::string &name) {
  std::string text = kernelSignature(name, 2) + " {\n"
                     "  const long c = get_global_id(0);\n"
                     "  if (c >= " + n(d.cols) + ") return;\n"
                     "  KILN_ARG(1, float)[c] = KILN_ARG(0, const float)[(rows - 1) * " +
                     n(d.cols) + " + c];\n"
                     "}\n";
  return {text, 2, LaunchShape{kLocal, groupsFor(d.cols), false}};
}

} // namespace

Result<KernelSource> emitElementwiseSource(const KernelDesc &d, const std::string &name,
                                           const DeviceFacts &) {
  switch (d.kind) {
  case KernelKind::Embedding:
    if (!decodableByOpenCl(d.format))
      return makeError("no OpenCL kernel reads ", std::string(ggmlTypeInfo(d.format).name),
                       " embeddings");
    return embedding(d, name);
  case KernelKind::Positions: return positions(name);
  case KernelKind::Add: return binary(d, name, true);
  case KernelKind::Mul: return binary(d, name, false);
  case KernelKind::Silu:
  case KernelKind::Gelu: return unary(d, name);
  case KernelKind::Softmax: return softmax(d, name);
  case KernelKind::SliceColumns: return sliceColumns(d, name);
  case KernelKind::LastRow: return lastRow(d, name);
  default: break;
  }
  return makeError("not an elementwise kernel: ", kernelKindName(d.kind));
}

} // namespace kiln::codegen::opencl
