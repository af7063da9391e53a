// Matmul kernels: the float-dot, panel and plain (f32/f16/bf16) schedules
// (the integer-dot ones are in IntegerMatmulEmitter.cpp), and the kernel
// that runs each weight part over a task's output columns with its
// epilogue (bias, SwiGLU, GELU, residual, rope).

#include "codegen/cpu/MatmulTiles.h"
#include "codegen/cpu/CpuSchedule.h"

#include "codegen/llvm/BlockVectors.h"
#include "codegen/llvm/GgmlNumerics.h"
#include "codegen/llvm/WeightDecode.h"

#include <algorithm>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

namespace {


// Many tokens, tiles of 16 output columns: the tile's 16 weight rows are
// dequantized once into a packed panel (16 weights per k, contiguous), then
// a register-blocked micro-kernel computes kPanelRows input rows x 16
// columns at a time: per k, one panel vector and kPanelRows broadcasts of
// the input feed kPanelRows independent FMA chains.
constexpr int64_t kPanelRows = 8;
constexpr int64_t kMaxPanelBytes = 1 << 20; // stays in L2

bool usePanels(const KernelDesc &d) {
  return kMatmulTile == kLanes && d.outCols % kLanes == 0 &&
         hasBlockVectors(d.format) &&
         d.cols % vectorBlockElements(d.format) == 0 &&
         d.cols * kLanes * 4 <= kMaxPanelBytes;
}

void emitPanelMatmul(Kernel &k, Value *x, Value *w, Value *bias, Value *out,
                     Value *tile) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols, N = k.d.outCols;
  GgmlType format = k.d.format;
  int64_t stride = rowBytes(format, K);
  int64_t blockElements = vectorBlockElements(format);
  int64_t blockBytes = rowBytes(format, blockElements);
  auto *vector = FixedVectorType::get(e.f32(), kLanes);
  Value *panel = e.scratch(K * kLanes);
  Value *n0 = b.CreateMul(tile, e.c64(kLanes));

  // panel[k * 16 + r] = weight[n0 + r][k]
  for (unsigned r = 0; r < kLanes; ++r) {
    Value *row = e.at(b.getInt8Ty(), w,
                      b.CreateMul(b.CreateAdd(n0, e.c64(r)), e.c64(stride)));
    e.forRange(0, K / blockElements, [&](Value *blockIndex) {
      Value *block = e.at(b.getInt8Ty(), row, b.CreateMul(blockIndex, e.c64(blockBytes)));
      Value *base = b.CreateMul(blockIndex, e.c64(blockElements));
      emitBlockVectors(e, format, block, [&](Value *values, Value *offset, unsigned) {
        Value *at = b.CreateAdd(base, offset);
        for (unsigned lane = 0; lane < kLanes; ++lane) {
          Value *kk = b.CreateAdd(at, e.c64(lane));
          e.storeF32(b.CreateExtractElement(values, lane), panel,
                     b.CreateAdd(b.CreateMul(kk, e.c64(kLanes)), e.c64(r)));
        }
      });
    });
  }
  Value *biasVector = bias ? b.CreateAlignedLoad(vector, e.at(e.f32(), bias, n0), Align(4))
                           : nullptr;
  std::vector<Value *> accumulators;
  for (int64_t r = 0; r < kPanelRows; ++r)
    accumulators.push_back(e.local(vector));
  // Rows [t0, t0 + count) against the panel.
  auto microKernel = [&](Value *t0, int64_t count) {
    Value *zero = ConstantAggregateZero::get(vector);
    for (int64_t r = 0; r < count; ++r)
      b.CreateStore(zero, accumulators[r]);
    std::vector<Value *> inputs;
    for (int64_t r = 0; r < count; ++r)
      inputs.push_back(k.rowPtr(x, b.CreateAdd(t0, e.c64(r)), K));
    e.forRange(0, K, [&](Value *kk) {
      Value *weights = b.CreateAlignedLoad(
          vector, e.at(e.f32(), panel, b.CreateMul(kk, e.c64(kLanes))), Align(64));
      for (int64_t r = 0; r < count; ++r) {
        Value *a = b.CreateVectorSplat(kLanes, e.loadF32(inputs[r], kk));
        b.CreateStore(b.CreateFAdd(b.CreateLoad(vector, accumulators[r]),
                                   b.CreateFMul(a, weights)),
                      accumulators[r]);
      }
    });
    for (int64_t r = 0; r < count; ++r) {
      Value *result = b.CreateLoad(vector, accumulators[r]);
      if (biasVector)
        result = b.CreateFAdd(result, biasVector);
      Value *t = b.CreateAdd(t0, e.c64(r));
      b.CreateAlignedStore(result,
                           e.at(e.f32(), out, b.CreateAdd(b.CreateMul(t, e.c64(N)), n0)),
                           Align(4));
    }
  };
  Value *fullBlocks = b.CreateUDiv(k.rows, e.c64(kPanelRows));
  e.forRange(e.c64(0), fullBlocks, [&](Value *blockIndex) {
    microKernel(b.CreateMul(blockIndex, e.c64(kPanelRows)), kPanelRows);
  });
  e.forRange(b.CreateMul(fullBlocks, e.c64(kPanelRows)), k.rows,
             [&](Value *t) { microKernel(t, 1); });
}

// Each task computes kMatmulTile output columns. One token (decode): the
// weight row's blocks are dequantized into vectors and dotted with the input
// as they are read, over two accumulators. Many tokens (prefill): the row is
// dequantized once into an L1-resident scratch row and dotted with every
// input row.
void emitMatmul(Kernel &k, const MatmulSlice &slice, bool panels) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  GgmlType format = slice.format;
  Value *x = slice.x, *w = slice.w;
  int64_t stride = rowBytes(format, K);
  int64_t blockElements = vectorBlockElements(format);
  bool vectorized = hasBlockVectors(format) && K % blockElements == 0;
  int64_t blockBytes = rowBytes(format, blockElements);
  Value *scratch = format == GgmlType::F32 ? nullptr : e.scratch(K);
  auto *vector = FixedVectorType::get(e.f32(), kLanes);
  Value *accumulators[2] = {e.local(vector), e.local(vector)};

  // Calls sink(values, element offset in the row, group) for the row.
  auto forEachVector = [&](Value *row, const VectorSink &sink) {
    e.forRange(0, K / blockElements, [&](Value *blockIndex) {
      Value *block = e.at(b.getInt8Ty(), row, b.CreateMul(blockIndex, e.c64(blockBytes)));
      Value *base = b.CreateMul(blockIndex, e.c64(blockElements));
      emitBlockVectors(e, format, block, [&](Value *values, Value *offset, unsigned group) {
        sink(values, b.CreateAdd(base, offset), group);
      });
    });
  };
  const auto &store = slice.store;
  Value *first = slice.first, *last = slice.last;
  auto perColumn = [&] {
  e.forRange(first, last, [&](Value *n) {
    Value *row = e.at(b.getInt8Ty(), w, b.CreateMul(n, e.c64(stride)));
    auto decodeAndDot = [&] {
      Value *weights = row;
      if (scratch) {
        if (vectorized)
          forEachVector(row, [&](Value *values, Value *at, unsigned) {
            b.CreateAlignedStore(values, e.at(e.f32(), scratch, at), Align(4));
          });
        else
          emitDecodeRow(e, format, row, scratch, K);
        weights = scratch;
      }
      e.forRange(e.c64(0), k.rows, [&](Value *t) {
        store(k.dot(k.rowPtr(x, t, K), weights, K), t, n);
      });
    };
    if (!vectorized) {
      decodeAndDot();
      return;
    }
    e.ifElse(
        b.CreateICmpEQ(k.rows, e.c64(1)),
        [&] {
          Value *zero = ConstantAggregateZero::get(vector);
          b.CreateStore(zero, accumulators[0]);
          b.CreateStore(zero, accumulators[1]);
          forEachVector(row, [&](Value *values, Value *at, unsigned group) {
            Value *input = b.CreateAlignedLoad(vector, e.at(e.f32(), x, at), Align(4));
            Value *acc = accumulators[group % 2];
            Value *sum = b.CreateFAdd(b.CreateLoad(vector, acc),
                                      b.CreateFMul(values, input));
            b.CreateStore(sum, acc);
          });
          Value *both = b.CreateFAdd(b.CreateLoad(vector, accumulators[0]),
                                     b.CreateLoad(vector, accumulators[1]));
          store(b.CreateFAddReduce(e.cf(0.0f), both), e.c64(0), n);
        },
        decodeAndDot);
  });
  };
  if (!panels) {
    perColumn();
    return;
  }
  Value *bias = k.d.matmul.hasBias ? k.arg(2) : nullptr;
  Value *out = k.arg(k.d.matmul.hasBias ? 3 : 2);
  e.ifElse(
      b.CreateICmpSGT(k.rows, e.c64(1)),
      [&] {
        e.forRange(k.begin, k.end, [&](Value *tileIndex) {
          emitPanelMatmul(k, x, w, bias, out, tileIndex);
        });
      },
      perColumn);
}

// Matmul on f32/f16/bf16 weights in llama.cpp's summation order
// (GgmlNumerics.h). Many tokens, as its sgemm: per output one eight-lane
// FMA accumulator over K, lanes added interleaved; 3 rows x 4 columns at a
// time. One token, as ggml_vec_dot_f32/f16: four accumulators over chunks
// of 32, folded and added adjacent, the rest of K one by one; 2 columns.
// With pairs32 weights both step through chunks of 32 from one pointer per
// column (TinyLlama f16 on Zen 3: prefill 41 -> 78 tok/s, decode 10.7 ->
// 15.1, once the per-load index arithmetic was gone).
bool usePlainMatmul(GgmlType format, int64_t K) {
  return (format == GgmlType::F32 || format == GgmlType::F16 ||
          format == GgmlType::BF16) &&
         K % 8 == 0;
}

void emitPlainMatmul(Kernel &k, const MatmulSlice &slice) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  GgmlType format = slice.format;
  Value *x = slice.x, *w = slice.w;
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  Value *accumulators[16];
  for (Value *&acc : accumulators)
    acc = e.local(lanes);
  // Where row n's chunk of 32 elements `chunk` starts, from the row's
  // base: Pairs32 interleaves rows n and n^1 in runs of 32 (K % 32 == 0).
  const bool paired = slice.layout == runtime::WeightLayout::Pairs32;
  auto rowBase = [&](Value *n) -> Value * {
    if (!paired)
      return b.CreateMul(n, e.c64(K));
    return b.CreateAdd(b.CreateMul(b.CreateUDiv(n, e.c64(2)), e.c64(2 * K)),
                       b.CreateMul(b.CreateURem(n, e.c64(2)), e.c64(32)));
  };
  auto chunkStart = [&](Value *base, Value *chunk) {
    return b.CreateAdd(base, b.CreateMul(chunk, e.c64(paired ? 64 : 32)));
  };
  // Eight weights from element `index` of the weight array, as floats.
  auto loadWeightsAt = [&](Value *index) -> Value * {
    if (format == GgmlType::F32)
      return b.CreateAlignedLoad(lanes, e.at(e.f32(), w, index), Align(4));
    auto *shorts = FixedVectorType::get(b.getInt16Ty(), 8);
    Value *raw = b.CreateAlignedLoad(shorts, e.at(b.getInt16Ty(), w, index), Align(2));
    if (format == GgmlType::F16)
      return b.CreateFPExt(b.CreateBitCast(raw, FixedVectorType::get(b.getHalfTy(), 8)),
                           lanes);
    Value *wide = b.CreateShl(b.CreateZExt(raw, FixedVectorType::get(e.i32(), 8)),
                              b.CreateVectorSplat(8, e.c32(16)));
    return b.CreateBitCast(wide, lanes);
  };
  // Eight weights of row n from element kk (a multiple of 8; in the file's
  // layout, or within the row's first K / 32 * 32 elements).
  auto loadWeights = [&](Value *n, Value *kk) -> Value * {
    if (!paired)
      return loadWeightsAt(b.CreateAdd(rowBase(n), kk));
    Value *chunk = b.CreateUDiv(kk, e.c64(32));
    return loadWeightsAt(
        b.CreateAdd(chunkStart(rowBase(n), chunk), b.CreateURem(kk, e.c64(32))));
  };
  auto loadInputs = [&](Value *t, Value *kk) {
    return b.CreateAlignedLoad(
        lanes, e.at(e.f32(), x, b.CreateAdd(b.CreateMul(t, e.c64(K)), kk)), Align(4));
  };
  // With 512-bit vectors, many tokens go 4 rows x 8 columns at a time, a
  // pair's two columns (n, n + 1) in the halves of one vector: half h of
  // its accumulator takes the FMAs the eight-lane accumulator of column
  // n + h takes, in the same order, so every output is the same bit for bit.
  const bool wide = paired && k.target.avx512;
  auto *lanes16 = FixedVectorType::get(e.f32(), 16);
  Value *wideAccumulators[16];
  if (wide)
    for (Value *&acc : wideAccumulators)
      acc = e.local(lanes16);
  SmallVector<int, 16> concat, halves[2];
  for (int i = 0; i < 16; ++i)
    concat.push_back(i);
  for (int i = 0; i < 8; ++i)
    halves[0].push_back(i), halves[1].push_back(8 + i);
  MicroTiles tiles = wide ? MicroTiles{4, 8, 2} : MicroTiles{3, 4, 2};
  forEachMicroTile(k, slice, tiles, [&](Value *t0, int64_t R, Value *n0, int64_t C,
                                        bool batched) {
    IRBuilder<>::FastMathFlagGuard guard(b);
    b.clearFastMathFlags();
    Value *zero = ConstantAggregateZero::get(lanes);
    auto column = [&](int64_t c) { return b.CreateAdd(n0, e.c64(c)); };
    auto row = [&](int64_t r) { return b.CreateAdd(t0, e.c64(r)); };
    if (wide && batched && C == 8) {
      // n0 is even (tiles and groups start at even columns): each pair is
      // one pairs32 pair, its chunk [column n0 + 2p: 32][n0 + 2p + 1: 32].
      for (int64_t i = 0; i < 4 * R; ++i)
        b.CreateStore(ConstantAggregateZero::get(lanes16), wideAccumulators[i]);
      std::vector<Value *> bases;
      for (int64_t p = 0; p < 4; ++p)
        bases.push_back(rowBase(column(2 * p)));
      e.forRange(0, K / 32, [&](Value *chunk) {
        for (int64_t s = 0; s < 4; ++s) {
          Value *kk = b.CreateAdd(b.CreateMul(chunk, e.c64(32)), e.c64(8 * s));
          Value *inputs[4];
          for (int64_t r = 0; r < R; ++r) {
            Value *x8 = loadInputs(row(r), kk);
            inputs[r] = b.CreateShuffleVector(x8, x8, concat);
          }
          for (int64_t p = 0; p < 4; ++p) {
            Value *at = b.CreateAdd(chunkStart(bases[p], chunk), e.c64(8 * s));
            Value *weights = b.CreateShuffleVector(
                loadWeightsAt(at), loadWeightsAt(b.CreateAdd(at, e.c64(32))), concat);
            for (int64_t r = 0; r < R; ++r) {
              Value *acc = wideAccumulators[p * R + r];
              b.CreateStore(emitFma(b, inputs[r], weights, b.CreateLoad(lanes16, acc)), acc);
            }
          }
        }
      });
      for (int64_t p = 0; p < 4; ++p)
        for (int64_t r = 0; r < R; ++r) {
          Value *both = b.CreateLoad(lanes16, wideAccumulators[p * R + r]);
          for (int64_t h = 0; h < 2; ++h) {
            Value *half = b.CreateShuffleVector(both, both, halves[h]);
            slice.store(emitLaneSum(b, half, LaneTree::Interleaved), row(r),
                        column(2 * p + h));
          }
        }
      return;
    }
    auto accumulate = [&](Value *acc, Value *n, Value *t, Value *kk) {
      b.CreateStore(emitFma(b, loadInputs(t, kk), loadWeights(n, kk),
                            b.CreateLoad(lanes, acc)),
                    acc);
    };
    if (batched) {
      for (int64_t i = 0; i < R * C; ++i)
        b.CreateStore(zero, accumulators[i]);
      if (paired) {
        // Chunks of 32, four steps of 8 each: the same products in the same
        // order, at fixed offsets from one pointer per column.
        std::vector<Value *> bases;
        for (int64_t c = 0; c < C; ++c)
          bases.push_back(rowBase(column(c)));
        e.forRange(0, K / 32, [&](Value *chunk) {
          for (int64_t s = 0; s < 4; ++s) {
            Value *kk = b.CreateAdd(b.CreateMul(chunk, e.c64(32)), e.c64(8 * s));
            for (int64_t c = 0; c < C; ++c) {
              Value *weights =
                  loadWeightsAt(b.CreateAdd(chunkStart(bases[c], chunk), e.c64(8 * s)));
              for (int64_t r = 0; r < R; ++r) {
                Value *acc = accumulators[c * R + r];
                b.CreateStore(emitFma(b, loadInputs(row(r), kk), weights,
                                      b.CreateLoad(lanes, acc)),
                              acc);
              }
            }
          }
        });
      } else {
        e.forRange(0, K / 8, [&](Value *chunk) {
          Value *kk = b.CreateMul(chunk, e.c64(8));
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r)
              accumulate(accumulators[c * R + r], column(c), row(r), kk);
        });
      }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t r = 0; r < R; ++r) {
          Value *sum = emitLaneSum(b, b.CreateLoad(lanes, accumulators[c * R + r]),
                                   LaneTree::Interleaved);
          slice.store(sum, row(r), column(c));
        }
      return;
    }
    // One token: four accumulators per column over chunks of 32.
    int64_t whole = K / 32 * 32;
    for (int64_t i = 0; i < 4 * C; ++i)
      b.CreateStore(zero, accumulators[i]);
    std::vector<Value *> bases;
    for (int64_t c = 0; c < C; ++c)
      bases.push_back(rowBase(column(c)));
    const int64_t elementBytes = format == GgmlType::F32 ? 4 : 2;
    e.forRange(0, whole / 32, [&](Value *chunk) {
      Value *base = b.CreateMul(chunk, e.c64(32));
      if (paired && C == 2)
        prefetchAhead(k, w, b.CreateMul(chunkStart(bases[0], chunk), e.c64(elementBytes)),
                      64 * elementBytes);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t a = 0; a < 4; ++a) {
          Value *acc = accumulators[4 * c + a];
          Value *weights =
              loadWeightsAt(b.CreateAdd(chunkStart(bases[c], chunk), e.c64(8 * a)));
          b.CreateStore(emitFma(b, loadInputs(row(0), b.CreateAdd(base, e.c64(8 * a))),
                                weights, b.CreateLoad(lanes, acc)),
                        acc);
        }
    });
    for (int64_t c = 0; c < C; ++c) {
      Value *x[4];
      for (int64_t a = 0; a < 4; ++a)
        x[a] = b.CreateLoad(lanes, accumulators[4 * c + a]);
      Value *folded = b.CreateFAdd(b.CreateFAdd(x[0], x[2]), b.CreateFAdd(x[1], x[3]));
      Value *sum = emitLaneSum(b, folded, LaneTree::Adjacent);
      // The rest of K one product at a time.
      for (int64_t kk = whole; kk < K; kk += 8) {
        Value *products = b.CreateFMul(loadInputs(row(0), e.c64(kk)),
                                       loadWeights(column(c), e.c64(kk)));
        for (unsigned l = 0; l < 8; ++l)
          sum = b.CreateFAdd(sum, b.CreateExtractElement(products, l));
      }
      slice.store(sum, row(0), column(c));
    }
  });
}

} // namespace

// A matmul kernel: each weight (part) in turn over this task's output
// columns, then its epilogue. Tasks number the tiles of all parts one
// after the other; SwiGLU's two parts share their tiles, the gate's
// products waiting in the output row for the up products of their column.
void emitMatmulKernel(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  const KernelDesc &d = k.d;
  int64_t K = d.cols, tile = kMatmulTile;
  bool swiglu = d.matmul.epilogue == MatmulEpilogue::SwiGlu;
  int index = 1;
  std::vector<Value *> weights, biases, outs;
  for (const MatmulPart &part : d.matmul.parts) {
    weights.push_back(k.arg(index++));
    biases.push_back(part.hasBias ? k.arg(index++) : nullptr);
  }
  Value *residual = d.matmul.residual ? k.arg(index++) : nullptr;
  for (size_t r = 0; r < (swiglu ? 1 : d.matmul.parts.size()); ++r)
    outs.push_back(k.arg(index++));
  bool plain = d.matmul.parts.size() == 1 && d.matmul.epilogue == MatmulEpilogue::None &&
               !residual && !d.matmul.parts[0].rope;

  auto emitSlice = [&](const MatmulSlice &slice) {
    if (d.matmul.activations != GgmlType::F32)
      emitIntegerMatmul(k, slice);
    else if (usePlainMatmul(slice.format, K))
      emitPlainMatmul(k, slice);
    else
      emitMatmul(k, slice, plain && usePanels(d));
  };
  auto clamp = [&](Value *v, Value *lo, Value *hi) {
    v = b.CreateSelect(b.CreateICmpSLT(v, lo), lo, v);
    return b.CreateSelect(b.CreateICmpSGT(v, hi), hi, v);
  };
  auto element = [&](Value *t, Value *n, int64_t N) {
    return b.CreateAdd(b.CreateMul(t, e.c64(N)), n);
  };
  auto withBias = [&](Value *sum, Value *bias, Value *n) {
    return bias ? b.CreateFAdd(sum, e.loadF32(bias, n)) : sum;
  };
  // The epilogue steps after the products: GELU, then the residual.
  auto finish = [&](Value *value, Value *t, Value *n, int64_t N, Value *out) {
    if (d.matmul.epilogue == MatmulEpilogue::Gelu)
      value = emitGeluValue(k, value);
    if (residual)
      value = b.CreateFAdd(e.loadF32(residual, element(t, n, N)), value);
    e.storeF32(value, out, element(t, n, N));
  };

  if (swiglu) {
    int64_t N = d.matmul.parts[0].rows;
    MatmulSlice gate;
    gate.x = k.arg(0);
    gate.w = weights[0];
    gate.bias = biases[0];
    gate.format = d.matmul.parts[0].format;
    gate.layout = d.matmul.parts[0].layout;
    gate.N = N;
    gate.first = clamp(b.CreateMul(k.begin, e.c64(tile)), e.c64(0), e.c64(N));
    gate.last = clamp(b.CreateMul(k.end, e.c64(tile)), gate.first, e.c64(N));
    gate.store = [&](Value *sum, Value *t, Value *n) {
      e.storeF32(withBias(sum, biases[0], n), outs[0], element(t, n, N));
    };
    emitSlice(gate);
    MatmulSlice up = gate;
    up.w = weights[1];
    up.bias = biases[1];
    up.format = d.matmul.parts[1].format;
    up.layout = d.matmul.parts[1].layout;
    up.store = [&](Value *sum, Value *t, Value *n) {
      Value *g = e.loadF32(outs[0], element(t, n, N));
      Value *value = b.CreateFMul(emitSiluValue(k, g, n, N), withBias(sum, biases[1], n));
      finish(value, t, n, N, outs[0]);
    };
    emitSlice(up);
    return;
  }

  int64_t taskBase = 0;
  for (size_t p = 0; p < d.matmul.parts.size(); ++p) {
    const MatmulPart &part = d.matmul.parts[p];
    int64_t N = part.rows, tiles = (N + tile - 1) / tile;
    Value *lo = clamp(b.CreateSub(k.begin, e.c64(taskBase)), e.c64(0), e.c64(tiles));
    Value *hi = clamp(b.CreateSub(k.end, e.c64(taskBase)), lo, e.c64(tiles));
    taskBase += tiles;
    MatmulSlice slice;
    slice.x = k.arg(0);
    slice.w = weights[p];
    slice.bias = biases[p];
    slice.format = part.format;
    slice.layout = part.layout;
    slice.N = N;
    slice.first = clamp(b.CreateMul(lo, e.c64(tile)), e.c64(0), e.c64(N));
    slice.last = clamp(b.CreateMul(hi, e.c64(tile)), slice.first, e.c64(N));
    Value *out = outs[p], *bias = biases[p];
    slice.store = [&, N, out, bias](Value *sum, Value *t, Value *n) {
      finish(withBias(sum, bias, n), t, n, N, out);
    };
    emitSlice(slice);
    if (!part.rope)
      continue;
    // Rope on the columns just written: tiles start at even columns, so
    // every (normal) pair lies in one task.
    int64_t hd = d.rope.headDim;
    Value *first = slice.first, *last = slice.last;
    e.ifElse(b.CreateICmpSLT(first, last), [&] {
      Value *firstHead = b.CreateUDiv(first, e.c64(hd));
      Value *endHead = b.CreateUDiv(b.CreateAdd(last, e.c64(hd - 1)), e.c64(hd));
      e.forRange(e.c64(0), k.rows, [&](Value *t) {
        Value *row = k.rowPtr(out, t, N);
        Value *position = b.CreateSIToFP(b.CreateAdd(k.position, t), e.f32());
        forEachRopeAngle(k, position, [&](Value *i, Value *cos, Value *sin) {
          e.forRange(firstHead, endHead, [&](Value *h) {
            Value *a = b.CreateAdd(b.CreateMul(h, e.c64(hd)), b.CreateShl(i, e.c64(1)));
            Value *inside = b.CreateAnd(b.CreateICmpSGE(a, first), b.CreateICmpSLT(a, last));
            e.ifElse(inside, [&] {
              emitRopeRotation(k, row, row, a, b.CreateAdd(a, e.c64(1)), cos, sin);
            }, [] {});
          });
        });
      });
    }, [] {});
  }
}

} // namespace kiln::codegen::cpu
