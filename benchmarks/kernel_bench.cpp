// The generated CPU kernels one layer block at a time, fused against
// unfused, at TinyLlama-1.1B and Llama-7B layer shapes, with random q8_0,
// q4_0, q4_K and f16 weights, for one token (decode) and 128 (prefill):
//
//   attn_in   rms_norm, convert, matmul q, k, v, rope q, k
//             vs rms_norm writing the converted row, one matmul q|k|v with rope
//   ffn       rms_norm, convert, matmul gate, up, silu, mul, convert,
//             matmul down, add
//             vs rms_norm (converted), matmul gate|up with SwiGLU, convert,
//             matmul down with the residual
//   out_proj  matmul o, add vs matmul o with the residual (input converted
//             beforehand: both variants would convert it alike)
//   attention Attention vs FlashAttention over an f16 KV cache of random
//             values, context 128, 512 and 2048 (prefill: the last 128
//             positions; decode: the last one)
//
// Each weight is in the layout the CPU target asks for (q4_0x8, rows4,
// pairs32: codegen/cpu/CpuSchedule.h), repacked as the executor does.
//
// "convert" is what the lowering puts before a matmul (PlanBuilder's
// lowerMatmul): QuantizeActivations to q8_0 for q8_0/q4_0 weights and to
// q8_K for q4_K (integer dots), RoundActivations to f16 for f16 weights.
// The kernel descriptions are built here as PlanBuilder builds them,
// compiled with CpuJit (once per shape and weight type, on first use,
// outside the timed loop; compiled kernels are kept in kiln's cache unless
// --kiln_no_cache) and called as the Executor calls them, on a ThreadPool
// of --threads=N workers (default 2).
//
// Each case reports the time per call, tokens/s (items_per_second) and, for
// the matmul blocks, weight bytes/s; at the end a table gives every
// fused/unfused (flash/attention) pair's speedup, from the median
// aggregate when --benchmark_repetitions gives one.
#include "QuantizedActivations.h"
#include "cpu/CpuJit.h"
#include "cpu/CpuSchedule.h"
#include "quant/Quantize.h"
#include "runtime/WeightLayout.h"
#include "runtime/cpu/ThreadPool.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace {

using namespace kiln;
using codegen::KernelDesc;
using codegen::KernelKind;
using codegen::MatmulEpilogue;
using codegen::MatmulPart;
using codegen::RowConversion;
using runtime::KernelFn;
using runtime::TaskCount;

unsigned gThreads = 2;
bool gUseCache = true;
std::unique_ptr<runtime::ThreadPool> gPool;

struct LayerShape {
  const char *name;
  int64_t hidden, ffn, heads, kvHeads, headDim;
  int64_t kvWidth() const { return kvHeads * headDim; }
};
constexpr LayerShape kShapes[] = {
    {"tinyllama", 2048, 5632, 32, 4, 64},
    {"llama7b", 4096, 11008, 32, 32, 128},
};
constexpr GgmlType kFormats[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::F16};
constexpr int64_t kRowCounts[] = {1, 128};
constexpr int64_t kMaxRows = 128;
constexpr float kEpsilon = 1e-5f;
constexpr float kFreqBase = 10000.0f;

std::string formatName(GgmlType type) {
  return std::string(ggmlTypeInfo(type).name);
}

// Kernels to compile together, shared when their descriptions are equal
// (as PlanBuilder shares them), then one JIT for all of them.
class KernelSet {
public:
  uint32_t add(const KernelDesc &desc) {
    auto [it, added] = index_.emplace(desc.key(), uint32_t(model_.kernels.size()));
    if (added) {
      model_.plan.kernelSymbols.push_back("kiln_bench_" + std::to_string(it->second) + "_" +
                                          codegen::kernelLabel(desc));
      model_.kernels.push_back(desc);
    }
    return it->second;
  }
  Status compile() {
    codegen::cpu::CpuOptions options;
    if (gUseCache)
      options.cacheDir = codegen::cpu::defaultCacheDir();
    auto jit = codegen::cpu::CpuJit::compile(model_, options);
    if (!jit)
      return jit.error();
    jit_ = std::move(*jit);
    return Status::success();
  }
  KernelFn fn(uint32_t index) const { return jit_->kernels()[index].fn; }

private:
  codegen::LoweredModel model_;
  std::map<std::string, uint32_t> index_;
  std::unique_ptr<codegen::cpu::CpuJit> jit_;
};

// One kernel call: its arguments and task count, as a plan step gives
// them to the Executor.
struct Call {
  uint32_t kernel;
  std::vector<void *> args;
  TaskCount tasks;
  KernelFn fn = nullptr; // set once compiled
};
using Sequence = std::vector<Call>;

// The Executor's loop over the steps of an entry point.
void runSequence(const Sequence &calls, int64_t rows, int64_t position) {
  for (const Call &step : calls) {
    struct {
      KernelFn fn;
      void *const *args;
      int64_t rows, position;
    } call{step.fn, step.args.data(), rows, position};
    gPool->parallelFor(step.tasks.fixed + step.tasks.perRow * rows,
                       [&call](int64_t begin, int64_t end, unsigned) {
                         call.fn(call.args, call.rows, call.position, begin, end);
                       });
  }
}

void resolve(Sequence &calls, const KernelSet &kernels) {
  for (Call &call : calls)
    call.fn = kernels.fn(call.kernel);
}

// A result row set to compare: `cols` floats per row.
struct Output {
  const float *data;
  int64_t cols;
};

// Runs `a`, then `b`, and fails when their outputs differ by more than
// `tolerance` (relative to 1 + |a|): the two variants must compute the same
// thing, or the timing compares different work (a wrong argument order
// still runs).
Status checkSame(const char *what, const Sequence &a, const Sequence &b,
                 const std::vector<Output> &outputs, int64_t rows, int64_t position,
                 float tolerance) {
  runSequence(a, rows, position);
  std::vector<std::vector<float>> expected;
  for (const Output &o : outputs)
    expected.emplace_back(o.data, o.data + rows * o.cols);
  runSequence(b, rows, position);
  for (size_t i = 0; i < outputs.size(); ++i)
    for (int64_t j = 0; j < rows * outputs[i].cols; ++j) {
      float x = expected[i][j], y = outputs[i].data[j];
      if (!(std::fabs(x - y) <= tolerance * (1.0f + std::fabs(x))))
        return makeError(what, ": the variants differ at output ", std::to_string(i),
                         " element ", std::to_string(j), ": ", std::to_string(x), " vs ",
                         std::to_string(y));
    }
  return Status::success();
}

std::mt19937 &rng() {
  static std::mt19937 generator(1234);
  return generator;
}

// rows x cols f32 values, N(0, 1): activations (already touched, so the
// timed calls do not page-fault).
std::vector<float> randomFloats(size_t count, float sigma = 1.0f) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(rng());
  return values;
}

// A weight matrix of `rows` x `cols` in `type`: one random N(0, 0.02)
// stretch quantized with the reference quantizer, repeated (the kernels'
// speed does not depend on the values; quantizing 7B-sized matrices would
// take minutes).
Result<std::vector<uint8_t>> randomWeights(GgmlType type, int64_t rows, int64_t cols) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  constexpr size_t kChunk = 1 << 16; // elements, whole blocks of every type
  std::vector<float> values = randomFloats(kChunk, 0.02f);
  std::vector<uint8_t> chunk(kChunk / info.blockSize * info.bytesPerBlock);
  KILN_TRY(quantize(type, values, chunk));
  size_t bytes = size_t(rows * cols) / info.blockSize * info.bytesPerBlock;
  std::vector<uint8_t> out(bytes);
  for (size_t at = 0; at < bytes; at += chunk.size())
    std::memcpy(out.data() + at, chunk.data(), std::min(chunk.size(), bytes - at));
  return out;
}

// What the lowering puts between an f32 row and a matmul on `weights`.
struct Conversion {
  KernelKind kind;           // QuantizeActivations or RoundActivations
  RowConversion normConvert; // the same, fused into a norm
  GgmlType format;           // q8_0 blocks or f16
  GgmlType activations;      // what the matmul reads: Q8_0 or F32
  // Floats per converted row of `cols`.
  int64_t rowFloats(int64_t cols) const {
    if (kind == KernelKind::QuantizeActivations)
      return codegen::quantizedRowLayout(format, cols).rowBytes / 4;
    return cols;
  }
};

Conversion conversionFor(GgmlType weights) {
  if (std::optional<GgmlType> q8 = codegen::integerDotActivations(weights))
    return {KernelKind::QuantizeActivations, RowConversion::Quantize, *q8, *q8};
  return {KernelKind::RoundActivations, RowConversion::Round, *vecDotType(weights),
          GgmlType::F32};
}

KernelDesc rowWise(KernelKind kind, int64_t cols) {
  KernelDesc d;
  d.kind = kind;
  d.cols = d.outCols = cols;
  return d;
}

KernelDesc rmsNorm(int64_t cols, RowConversion convert = RowConversion::None,
                   GgmlType format = GgmlType::F32) {
  KernelDesc d = rowWise(KernelKind::RmsNorm, cols);
  d.norm.epsilon = kEpsilon;
  d.norm.convert = convert;
  d.format = format;
  return d;
}

KernelDesc convertRow(const Conversion &c, int64_t cols) {
  KernelDesc d = rowWise(c.kind, cols);
  d.format = c.format;
  return d;
}

KernelDesc rope(const LayerShape &s, int64_t cols) {
  KernelDesc d = rowWise(KernelKind::Rope, cols);
  d.rope.headDim = d.rope.ropeDims = s.headDim;
  d.rope.freqBase = kFreqBase;
  d.rope.freqScale = 1.0f;
  return d;
}

// The layout the CPU target streams a rows x cols weight in (as the plan
// builder asks it under the default --numerics), so that the kernels read
// what they read in a model.
runtime::WeightLayout benchLayout(GgmlType format, int64_t rows, int64_t cols) {
  return codegen::cpu::matmulWeightLayout(format, rows, cols,
                                          codegen::integerDotActivations(format).has_value(),
                                          codegen::LowerOptions{}.numerics);
}

// A matmul on K-wide converted rows, as lowerMatmul describes it; `ropeOf`
// gives the rope fields when a part rotates its result.
KernelDesc matmul(int64_t K, std::vector<MatmulPart> parts, const Conversion &c,
                  MatmulEpilogue epilogue = MatmulEpilogue::None, bool residual = false,
                  const LayerShape *ropeOf = nullptr) {
  KernelDesc d;
  d.kind = KernelKind::Matmul;
  d.cols = K;
  d.matmul.parts = std::move(parts);
  d.format = d.matmul.parts[0].format;
  d.outCols = d.matmul.parts[0].rows;
  d.matmul.activations = c.activations;
  for (MatmulPart &p : d.matmul.parts)
    p.layout = benchLayout(p.format, p.rows, K);
  d.matmul.epilogue = epilogue;
  d.matmul.residual = residual;
  if (ropeOf) {
    d.rope.headDim = d.rope.ropeDims = ropeOf->headDim;
    d.rope.freqBase = kFreqBase;
    d.rope.freqScale = 1.0f;
  }
  return d;
}

// The CPU target's own count (codegen/cpu/CpuSchedule.h).
TaskCount matmulTasks(const KernelDesc &d) { return codegen::cpu::taskCount(d); }

MatmulPart part(GgmlType format, int64_t rows, bool rope = false) {
  MatmulPart p;
  p.format = format;
  p.rows = rows;
  p.rope = rope;
  return p;
}

// The weights, buffers and kernel sequences of one layer at one shape and
// weight type.
//
// Decode reads every weight once per call, and a layer's matrices fit in
// this machine's L3 (TinyLlama q8_0 out_proj: 4.4 MB), which a model with
// many layers never allows: each block gets enough copies of its weights
// to exceed kColdBytes, and the timed loop takes them in turn, so every
// call streams its weights from memory as in a real forward pass.
constexpr uint64_t kColdBytes = 64ull << 20;

struct Block {
  uint64_t bytes = 0; // weight bytes one call reads
  std::vector<std::vector<uint8_t>> storage;
  std::vector<std::array<Sequence, 2>> copies; // [copy][unfused, fused]
};

struct LayerBench {
  LayerBench(const LayerShape &shape, GgmlType format) : shape(shape), format(format) {}
  LayerShape shape;
  GgmlType format;
  KernelSet kernels;
  std::vector<float> normWeight;
  // Activations, kMaxRows rows each.
  std::vector<float> x, attnOut, normed, hidden1, hidden2, q, k, v, qRoped, kRoped,
      gate, up, act, prod, ffnConv, down, out;
  Block attnIn, ffn, outProj;

  Status build();
};

// Fills `block` with copies of random matrices of `shapes` (rows x cols)
// and their sequences, made by `sequences(pointer per matrix)`.
template <typename MakeSequences>
Status fillBlock(Block &block, GgmlType format,
                 std::initializer_list<std::pair<int64_t, int64_t>> shapes,
                 const MakeSequences &sequences) {
  std::vector<std::vector<uint8_t>> first;
  for (auto [rows, cols] : shapes) {
    auto weights = randomWeights(format, rows, cols);
    if (!weights)
      return weights.error();
    auto laidOut = runtime::repackWeight(benchLayout(format, rows, cols), format, *weights,
                                         rows, cols);
    if (!laidOut)
      return laidOut.error();
    block.bytes += laidOut->size();
    first.emplace_back(laidOut->begin(), laidOut->end());
  }
  uint64_t copies = std::max<uint64_t>(1, (kColdBytes + block.bytes - 1) / block.bytes);
  for (uint64_t copy = 0; copy < copies; ++copy) {
    std::vector<uint8_t *> pointers;
    for (const std::vector<uint8_t> &matrix : first) {
      block.storage.push_back(matrix);
      pointers.push_back(block.storage.back().data());
    }
    block.copies.push_back(sequences(pointers));
  }
  return Status::success();
}

Status LayerBench::build() {
  const LayerShape &s = shape;
  int64_t H = s.hidden, F = s.ffn, KV = s.kvWidth();
  normWeight = randomFloats(H);
  for (float &w : normWeight)
    w = 1.0f + 0.1f * w;

  Conversion c = conversionFor(format);
  auto rows = [](int64_t cols) { return std::vector<float>(size_t(kMaxRows * cols)); };
  x = randomFloats(size_t(kMaxRows * H));
  attnOut = randomFloats(size_t(kMaxRows * H));
  normed = rows(H);
  hidden1 = rows(c.rowFloats(H));
  hidden2 = rows(c.rowFloats(H));
  q = rows(H), qRoped = rows(H), out = rows(H), down = rows(H);
  k = rows(KV), kRoped = rows(KV), v = rows(KV);
  gate = rows(F), up = rows(F), act = rows(F), prod = rows(F);
  ffnConv = rows(c.rowFloats(F));

  auto step = [&](const KernelDesc &d, std::vector<void *> args,
                  std::optional<TaskCount> tasks = std::nullopt) {
    return Call{kernels.add(d), std::move(args), tasks ? *tasks : TaskCount{0, 1}};
  };
  auto mm = [&](const KernelDesc &d, std::vector<void *> args) {
    return step(d, std::move(args), matmulTasks(d));
  };
  void *nw = normWeight.data();

  KernelDesc norm = rmsNorm(H), normConvert = rmsNorm(H, c.normConvert, c.format);
  KernelDesc convH = convertRow(c, H), convF = convertRow(c, F);

  // Attention input block.
  KernelDesc mq = matmul(H, {part(format, H)}, c), mk = matmul(H, {part(format, KV)}, c);
  KernelDesc qkv = matmul(H, {part(format, H, true), part(format, KV, true), part(format, KV)},
                          c, MatmulEpilogue::None, false, &s);
  KILN_TRY(fillBlock(attnIn, format, {{H, H}, {KV, H}, {KV, H}}, [&](auto w) {
    return std::array<Sequence, 2>{
        Sequence{step(norm, {x.data(), nw, normed.data()}),
                 step(convH, {normed.data(), hidden1.data()}),
                 mm(mq, {hidden1.data(), w[0], q.data()}),
                 mm(mk, {hidden1.data(), w[1], k.data()}),
                 mm(mk, {hidden1.data(), w[2], v.data()}),
                 step(rope(s, H), {q.data(), qRoped.data()}),
                 step(rope(s, KV), {k.data(), kRoped.data()})},
        Sequence{step(normConvert, {x.data(), nw, hidden1.data()}),
                 mm(qkv, {hidden1.data(), w[0], w[1], w[2], qRoped.data(), kRoped.data(),
                          v.data()})}};
  }));

  // FFN block; its residual is the block's input.
  KernelDesc mgate = matmul(H, {part(format, F)}, c);
  KernelDesc mdown = matmul(F, {part(format, H)}, c);
  KernelDesc swiglu = matmul(H, {part(format, F), part(format, F)}, c, MatmulEpilogue::SwiGlu);
  KernelDesc downResidual = matmul(F, {part(format, H)}, c, MatmulEpilogue::None, true);
  KILN_TRY(fillBlock(ffn, format, {{F, H}, {F, H}, {H, F}}, [&](auto w) {
    return std::array<Sequence, 2>{
        Sequence{step(norm, {x.data(), nw, normed.data()}),
                 step(convH, {normed.data(), hidden1.data()}),
                 mm(mgate, {hidden1.data(), w[0], gate.data()}),
                 mm(mgate, {hidden1.data(), w[1], up.data()}),
                 step(rowWise(KernelKind::Silu, F), {gate.data(), act.data()}),
                 step(rowWise(KernelKind::Mul, F), {act.data(), up.data(), prod.data()}),
                 step(convF, {prod.data(), ffnConv.data()}),
                 mm(mdown, {ffnConv.data(), w[2], down.data()}),
                 step(rowWise(KernelKind::Add, H), {x.data(), down.data(), out.data()})},
        Sequence{step(normConvert, {x.data(), nw, hidden1.data()}),
                 mm(swiglu, {hidden1.data(), w[0], w[1], prod.data()}),
                 step(convF, {prod.data(), ffnConv.data()}),
                 mm(downResidual, {ffnConv.data(), w[2], x.data(), out.data()})}};
  }));

  // Output projection on the converted attention output (hidden2).
  KernelDesc oResidual = matmul(H, {part(format, H)}, c, MatmulEpilogue::None, true);
  KILN_TRY(fillBlock(outProj, format, {{H, H}}, [&](auto w) {
    return std::array<Sequence, 2>{
        Sequence{mm(mq, {hidden2.data(), w[0], down.data()}),
                 step(rowWise(KernelKind::Add, H), {x.data(), down.data(), out.data()})},
        Sequence{mm(oResidual, {hidden2.data(), w[0], x.data(), out.data()})}};
  }));
  Sequence convertAttnOut = {step(convH, {attnOut.data(), hidden2.data()})};

  KILN_TRY(kernels.compile());
  for (Block *block : {&attnIn, &ffn, &outProj})
    for (auto &variants : block->copies)
      for (Sequence &sequence : variants)
        resolve(sequence, kernels);
  resolve(convertAttnOut, kernels);
  runSequence(convertAttnOut, kMaxRows, 0);
  // Fusion reassociates nothing (fused equals unfused bit for bit in the
  // equivalence tests); a small tolerance all the same. One token and a
  // few (the batched code paths).
  for (int64_t rows : {1, 5}) {
    int64_t position = 100;
    KILN_TRY(checkSame("attn_in", attnIn.copies[0][0], attnIn.copies[0][1],
                       {{qRoped.data(), H}, {kRoped.data(), KV}, {v.data(), KV}}, rows,
                       position, 1e-5f));
    KILN_TRY(checkSame("ffn", ffn.copies[0][0], ffn.copies[0][1], {{out.data(), H}}, rows,
                       position, 1e-5f));
    KILN_TRY(checkSame("out_proj", outProj.copies[0][0], outProj.copies[0][1],
                       {{out.data(), H}}, rows, position, 1e-5f));
  }
  return Status::success();
}

// Attention over an f16 KV cache of `context` positions.
struct AttentionBench {
  AttentionBench(const LayerShape &shape, int64_t context) : shape(shape), context(context) {}
  LayerShape shape;
  int64_t context;
  KernelSet kernels;
  std::vector<float> q, out;
  std::vector<uint8_t> keys, values;
  Sequence plain, flash;

  Status build();
};

Status AttentionBench::build() {
  const LayerShape &s = shape;
  q = randomFloats(size_t(kMaxRows * s.hidden));
  out.assign(size_t(kMaxRows * s.hidden), 0.0f);
  size_t cacheElements = size_t(context * s.kvWidth());
  for (auto *cache : {&keys, &values}) {
    cache->resize(cacheElements * 2);
    KILN_TRY(quantize(GgmlType::F16, randomFloats(cacheElements), *cache));
  }
  for (bool useFlash : {false, true}) {
    KernelDesc d = rowWise(useFlash ? KernelKind::FlashAttention : KernelKind::Attention,
                           s.hidden);
    d.attention.numHeads = s.heads;
    d.attention.numKvHeads = s.kvHeads;
    d.attention.headDim = s.headDim;
    d.attention.scale = 1.0f / std::sqrt(float(s.headDim));
    d.attention.contextLength = context;
    d.attention.kvHalf = true;
    Call call{kernels.add(d), {q.data(), keys.data(), values.data(), out.data()},
              codegen::cpu::taskCount(d)};
    (useFlash ? flash : plain).push_back(std::move(call));
  }
  KILN_TRY(kernels.compile());
  resolve(plain, kernels);
  resolve(flash, kernels);
  // Flash attention sums in another order and uses expf for the rescaling.
  for (int64_t rows : {int64_t(1), std::min<int64_t>(5, context)})
    KILN_TRY(checkSame("attention", plain, flash, {{out.data(), s.hidden}}, rows,
                       context - rows, 1e-3f));
  return Status::success();
}

// Built on first use and kept until a benchmark needs another one (the
// benchmarks of one shape and type run one after the other; a
// --benchmark_filter builds only what it selects; at most one layer's weight
// copies are in memory).
template <typename Bench, typename... Args>
Bench *lazy(std::pair<std::string, std::unique_ptr<Bench>> &current, const std::string &key,
            std::string &error, const Args &...args) {
  if (current.first == key) {
    if (!current.second)
      error = "setup failed earlier (see above)";
    return current.second.get();
  }
  current.second.reset();
  current.first = key;
  current.second = std::make_unique<Bench>(args...);
  if (Status status = current.second->build(); !status) {
    error = status.message();
    current.second.reset();
  }
  return current.second.get();
}

LayerBench *layerBench(const LayerShape &shape, GgmlType format, std::string &error) {
  static std::pair<std::string, std::unique_ptr<LayerBench>> cache;
  return lazy(cache, std::string(shape.name) + "/" + formatName(format), error, shape,
              format);
}

AttentionBench *attentionBench(const LayerShape &shape, int64_t context, std::string &error) {
  static std::pair<std::string, std::unique_ptr<AttentionBench>> cache;
  return lazy(cache, std::string(shape.name) + "/" + std::to_string(context), error, shape,
              context);
}

// Times the calls, taking `sequences` in turn, after one untimed call.
void timeCalls(benchmark::State &state, const std::vector<const Sequence *> &sequences,
               int64_t rows, int64_t position, uint64_t weightBytes) {
  runSequence(*sequences[0], rows, position);
  size_t next = 0;
  for (auto _ : state) {
    runSequence(*sequences[next], rows, position);
    next = next + 1 == sequences.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * rows);
  if (weightBytes)
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(weightBytes));
}

enum class BlockKind { AttnIn, Ffn, OutProj };

void registerLayer(const LayerShape &shape, GgmlType format) {
  for (int64_t rows : kRowCounts)
    for (auto [kind, kindName] : {std::pair{BlockKind::AttnIn, "attn_in"},
                                  std::pair{BlockKind::Ffn, "ffn"},
                                  std::pair{BlockKind::OutProj, "out_proj"}})
      for (int variant : {0, 1}) {
        std::string name = std::string(kindName) + "/" + shape.name + "/" +
                           formatName(format) + "/rows:" + std::to_string(rows) +
                           (variant ? "/fused" : "/unfused");
        benchmark::RegisterBenchmark(
            name.c_str(),
            [shape, format, rows, kind, variant](benchmark::State &state) {
              std::string error;
              LayerBench *bench = layerBench(shape, format, error);
              if (!bench) {
                state.SkipWithError(error.c_str());
                return;
              }
              const Block &block = kind == BlockKind::AttnIn ? bench->attnIn
                                   : kind == BlockKind::Ffn  ? bench->ffn
                                                             : bench->outProj;
              std::vector<const Sequence *> sequences;
              for (const auto &variants : block.copies)
                sequences.push_back(&variants[variant]);
              // Rope rotates at the positions attention is measured at.
              int64_t position = rows == 1 ? 511 : 384;
              timeCalls(state, sequences, rows, position, block.bytes);
            })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

void registerAttention(const LayerShape &shape) {
  for (int64_t context : {128, 512, 2048})
    for (int64_t rows : kRowCounts)
      for (bool useFlash : {false, true}) {
        std::string name = std::string("attention/") + shape.name + "/ctx:" +
                           std::to_string(context) + "/rows:" + std::to_string(rows) +
                           (useFlash ? "/flash" : "/attention");
        benchmark::RegisterBenchmark(
            name.c_str(),
            [shape, context, rows, useFlash](benchmark::State &state) {
              std::string error;
              AttentionBench *bench = attentionBench(shape, context, error);
              if (!bench) {
                state.SkipWithError(error.c_str());
                return;
              }
              // The last `rows` positions of the context.
              timeCalls(state, {useFlash ? &bench->flash : &bench->plain}, rows,
                        context - rows, 0);
            })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

// The console table, then each fused/unfused (flash/attention) pair's
// speedup: the median aggregate when there is one, else the median of the
// repetitions.
class PairReporter : public benchmark::ConsoleReporter {
public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &run : runs) {
      if (run.error_occurred)
        continue;
      // The registered name, without "/real_time" and the like.
      const std::string &name = run.run_name.function_name;
      if (!times_.count(name))
        order_.push_back(name);
      Times &times = times_[name];
      if (run.run_type == Run::RT_Iteration)
        times.runs.push_back(run.GetAdjustedRealTime());
      else if (run.aggregate_name == "median")
        times.median = run.GetAdjustedRealTime();
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::vector<std::string> lines;
    for (const std::string &name : order_) {
      const Times &times = times_.at(name);
      for (auto [base, candidate] : {std::pair{"/unfused", "/fused"},
                                     std::pair{"/attention", "/flash"}}) {
        size_t cut = name.size() - std::strlen(base);
        if (name.size() <= std::strlen(base) || name.compare(cut, std::string::npos, base))
          continue;
        auto other = times_.find(name.substr(0, cut) + candidate);
        if (other == times_.end())
          continue;
        double before = times.value(), after = other->second.value();
        if (before > 0 && after > 0) {
          char line[256];
          std::snprintf(line, sizeof line, "%-40s %12.1f %12.1f %8.2fx\n",
                        name.substr(0, cut).c_str(), before, after, before / after);
          lines.push_back(line);
        }
      }
    }
    if (lines.empty())
      return;
    std::ostream &os = GetOutputStream();
    os << "\nSpeedup of the fused kernels (flash attention), time per call in us:\n";
    char header[256];
    std::snprintf(header, sizeof header, "%-40s %12s %12s %9s\n", "case",
                  "unfused", "fused", "speedup");
    os << header;
    for (const std::string &line : lines)
      os << line;
  }

private:
  struct Times {
    std::vector<double> runs;
    double median = 0;
    double value() const {
      if (median > 0 || runs.empty())
        return median;
      std::vector<double> sorted = runs;
      std::sort(sorted.begin(), sorted.end());
      size_t n = sorted.size();
      return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
  };
  std::map<std::string, Times> times_;
  std::vector<std::string> order_; // as they ran
};

} // namespace

int main(int argc, char **argv) {
  // Our flags first; the rest is Google Benchmark's.
  bool plainConsole = true;
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) {
      gThreads = unsigned(std::max(1, std::atoi(arg.c_str() + 10)));
      continue;
    }
    if (arg == "--kiln_no_cache") {
      gUseCache = false;
      continue;
    }
    if (arg.rfind("--benchmark_format=", 0) == 0 && arg != "--benchmark_format=console")
      plainConsole = false;
    args.push_back(argv[i]);
  }
  int count = int(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data()))
    return 1;
  gPool = std::make_unique<runtime::ThreadPool>(gThreads);
  benchmark::AddCustomContext("kiln_threads", std::to_string(gThreads));

  for (const LayerShape &shape : kShapes) {
    for (GgmlType format : kFormats)
      registerLayer(shape, format);
    registerAttention(shape);
  }
  size_t ran = 0;
  if (plainConsole) {
    PairReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                                : benchmark::ConsoleReporter::OO_None);
    ran = benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    ran = benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  gPool.reset();
  // A filter that matches nothing is a mistake (the smoke test relies on it).
  return ran == 0 ? 1 : 0;
}
