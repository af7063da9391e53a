#include "CpuKernelEmitter.h"

#include "BlockVectors.h"
#include "IntegerDot.h"
#include "LoopEmitter.h"
#include "QuantizedActivations.h"
#include "WeightDecode.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace llvm;

namespace kiln::codegen::cpu {

namespace {

// The body of one kernel: arguments of the KernelFn signature and helpers.
struct Kernel {
  Kernel(Module &module, const KernelDesc &desc, const std::string &symbol,
         const EmitTarget &target)
      : builder(module.getContext()), e(builder), d(desc), target(target) {
    LLVMContext &ctx = module.getContext();
    auto *ptr = PointerType::get(ctx, 0);
    auto *i64 = Type::getInt64Ty(ctx);
    auto *type = FunctionType::get(Type::getVoidTy(ctx),
                                   {ptr, i64, i64, i64, i64}, false);
    fn = Function::Create(type, Function::ExternalLinkage, symbol, module);
    fn->addFnAttr(Attribute::NoUnwind);
    fn->addFnAttr("no-trapping-math", "true");
    args = fn->getArg(0);
    rows = fn->getArg(1);
    position = fn->getArg(2);
    begin = fn->getArg(3);
    end = fn->getArg(4);
    builder.SetInsertPoint(BasicBlock::Create(ctx, "entry", fn));
    // Sums may be reassociated (vectorized); NaNs and infinities keep their
    // meaning.
    FastMathFlags flags;
    flags.setAllowReassoc();
    flags.setAllowContract();
    builder.setFastMathFlags(flags);
  }

  Value *arg(int index) {
    auto *ptr = PointerType::get(builder.getContext(), 0);
    Value *slot = builder.CreateInBoundsGEP(ptr, args, e.c64(index));
    return builder.CreateLoad(ptr, slot);
  }
  Value *rowPtr(Value *base, Value *row, int64_t cols) {
    return e.at(e.f32(), base, builder.CreateMul(row, e.c64(cols)));
  }
  void finish() { builder.CreateRetVoid(); }

  // sum_k a[k] * b[k]
  Value *dot(Value *a, Value *b, int64_t count) {
    return e.reduce(0, count, e.cf(0.0f), [&](Value *k, Value *acc) {
      return builder.CreateFAdd(
          acc, builder.CreateFMul(e.loadF32(a, k), e.loadF32(b, k)));
    });
  }

  IRBuilder<> builder;
  LoopEmitter e;
  const KernelDesc &d;
  const EmitTarget &target;
  Function *fn;
  Value *args, *rows, *position, *begin, *end;
};

void emitEmbedding(Kernel &k) {
  auto &b = k.builder;
  Value *table = k.arg(0), *ids = k.arg(1), *out = k.arg(2);
  int64_t stride = rowBytes(k.d.format, k.d.outCols);
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *id = b.CreateSExt(b.CreateLoad(k.e.i32(), k.e.at(k.e.i32(), ids, t)),
                             k.e.i64());
    Value *row = k.e.at(b.getInt8Ty(), table, b.CreateMul(id, k.e.c64(stride)));
    emitDecodeRow(k.e, k.d.format, row, k.rowPtr(out, t, k.d.outCols),
                  k.d.outCols);
  });
}

void emitPositions(Kernel &k) {
  auto &b = k.builder;
  Value *out = k.arg(0);
  k.e.forRange(k.e.c64(0), k.rows, [&](Value *t) {
    Value *p = b.CreateTrunc(b.CreateAdd(k.position, t), k.e.i32());
    b.CreateStore(p, k.e.at(k.e.i32(), out, t));
  });
}

// Sums in double, as llama.cpp's norms do.
Value *sumDouble(Kernel &k, int64_t count,
                 const std::function<Value *(Value *)> &term) {
  auto &b = k.builder;
  return k.e.reduce(0, count, ConstantFP::get(b.getDoubleTy(), 0.0),
                    [&](Value *c, Value *acc) {
                      return b.CreateFAdd(acc, b.CreateFPExt(term(c), b.getDoubleTy()));
                    });
}

void emitRmsNorm(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *w = k.arg(1), *out = k.arg(2);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = k.rowPtr(out, t, n);
    Value *sum = sumDouble(k, n, [&](Value *c) {
      Value *v = k.e.loadF32(in, c);
      return b.CreateFMul(v, v);
    });
    Value *mean = b.CreateFPTrunc(
        b.CreateFDiv(sum, ConstantFP::get(b.getDoubleTy(), double(n))), k.e.f32());
    Value *root = b.CreateUnaryIntrinsic(Intrinsic::sqrt,
                                         b.CreateFAdd(mean, k.e.cf(k.d.epsilon)));
    Value *scale = b.CreateFDiv(k.e.cf(1.0f), root);
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFMul(k.e.loadF32(in, c), scale);
      k.e.storeF32(b.CreateFMul(v, k.e.loadF32(w, c)), res, c);
    });
  });
}

void emitLayerNorm(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *w = k.arg(1), *bias = k.arg(2), *out = k.arg(3);
  int64_t n = k.d.cols;
  auto *dbl = b.getDoubleTy();
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = k.rowPtr(out, t, n);
    Value *sum = sumDouble(k, n, [&](Value *c) { return k.e.loadF32(in, c); });
    Value *mean = b.CreateFPTrunc(
        b.CreateFDiv(sum, ConstantFP::get(dbl, double(n))), k.e.f32());
    Value *sum2 = sumDouble(k, n, [&](Value *c) {
      Value *v = b.CreateFSub(k.e.loadF32(in, c), mean);
      return b.CreateFMul(v, v);
    });
    Value *variance = b.CreateFPTrunc(
        b.CreateFDiv(sum2, ConstantFP::get(dbl, double(n))), k.e.f32());
    Value *root = b.CreateUnaryIntrinsic(
        Intrinsic::sqrt, b.CreateFAdd(variance, k.e.cf(k.d.epsilon)));
    Value *scale = b.CreateFDiv(k.e.cf(1.0f), root);
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFMul(b.CreateFSub(k.e.loadF32(in, c), mean), scale);
      v = b.CreateFAdd(b.CreateFMul(v, k.e.loadF32(w, c)), k.e.loadF32(bias, c));
      k.e.storeF32(v, res, c);
    });
  });
}

// Many tokens, tiles of 16 output columns: the tile's 16 weight rows are
// dequantized once into a packed panel (16 weights per k, contiguous), then
// a register-blocked micro-kernel computes kPanelRows input rows x 16
// columns at a time: per k, one panel vector and kPanelRows broadcasts of
// the input feed kPanelRows independent FMA chains.
constexpr int64_t kPanelRows = 8;
constexpr int64_t kMaxPanelBytes = 1 << 20; // stays in L2

bool usePanels(const KernelDesc &d) {
  return KernelDesc::kMatmulTile == kLanes && d.outCols % kLanes == 0 &&
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
void emitMatmul(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols, N = k.d.outCols, tile = KernelDesc::kMatmulTile;
  GgmlType format = k.d.format;
  Value *x = k.arg(0), *w = k.arg(1);
  Value *bias = k.d.hasBias ? k.arg(2) : nullptr;
  Value *out = k.arg(k.d.hasBias ? 3 : 2);
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
  auto store = [&](Value *value, Value *t, Value *n) {
    if (bias)
      value = b.CreateFAdd(value, e.loadF32(bias, n));
    e.storeF32(value, out, b.CreateAdd(b.CreateMul(t, e.c64(N)), n));
  };

  Value *first = b.CreateMul(k.begin, e.c64(tile));
  Value *last = b.CreateMul(k.end, e.c64(tile));
  last = b.CreateSelect(b.CreateICmpSLT(last, e.c64(N)), last, e.c64(N));
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
  if (!usePanels(k.d)) {
    perColumn();
    return;
  }
  e.ifElse(
      b.CreateICmpSGT(k.rows, e.c64(1)),
      [&] {
        e.forRange(k.begin, k.end, [&](Value *tileIndex) {
          emitPanelMatmul(k, x, w, bias, out, tileIndex);
        });
      },
      perColumn);
}

// Matmul on quantized input rows (integer dot products, IntegerDot.h).
// Each task computes kMatmulTile output columns. A micro-kernel takes R
// input rows and C columns at once: each weight block is unpacked once for
// the R rows, each row's block loaded once for the C columns, and the R x C
// accumulator chains are independent. Many tokens: 4 rows x 2 columns; one
// token: 1 row x 4 columns.
constexpr int64_t kIntegerRows = 4;

void emitIntegerMatmul(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols, N = k.d.outCols, tile = KernelDesc::kMatmulTile;
  GgmlType format = k.d.format;
  Value *x = k.arg(0), *w = k.arg(1);
  Value *bias = k.d.hasBias ? k.arg(2) : nullptr;
  Value *out = k.arg(k.d.hasBias ? 3 : 2);
  QuantizedRowLayout layout = quantizedRowLayout(k.d.activations, K);
  int64_t stride = rowBytes(format, K);
  int64_t blockElements = integerDotBlockElements(format);
  int64_t blockBytes = rowBytes(format, blockElements);
  IntegerDotTarget target{k.target.avx2};
  auto *lanes = FixedVectorType::get(e.f32(), kDotLanes);
  std::vector<DotAccumulators> accumulators;
  for (int64_t i = 0; i < 8; ++i)
    accumulators.push_back({e.local(lanes), e.local(e.f32())});

  Value *first = b.CreateMul(k.begin, e.c64(tile));
  Value *last = b.CreateMul(k.end, e.c64(tile));
  last = b.CreateSelect(b.CreateICmpSLT(last, e.c64(N)), last, e.c64(N));
  // Rows [t0, t0 + R) x columns [n0, n0 + C); accumulator c * R + r.
  auto microKernel = [&](Value *t0, int64_t R, Value *n0, int64_t C) {
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)),
                      e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset))});
    }
    for (int64_t i = 0; i < R * C; ++i) {
      b.CreateStore(ConstantAggregateZero::get(lanes), accumulators[i].lanes);
      b.CreateStore(e.cf(0.0f), accumulators[i].offset);
    }
    std::vector<Value *> weightRows;
    for (int64_t c = 0; c < C; ++c)
      weightRows.push_back(e.at(b.getInt8Ty(), w,
                                b.CreateMul(b.CreateAdd(n0, e.c64(c)), e.c64(stride))));
    e.forRange(0, K / blockElements, [&](Value *blockIndex) {
      Value *offset = b.CreateMul(blockIndex, e.c64(blockBytes));
      for (int64_t c = 0; c < C; ++c)
        emitBlockIntegerDot(e, target, format, e.at(b.getInt8Ty(), weightRows[c], offset),
                            blockIndex, rows,
                            ArrayRef<DotAccumulators>(accumulators).slice(c * R, R));
    });
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < R; ++r) {
        const DotAccumulators &acc = accumulators[c * R + r];
        Value *value = b.CreateFAddReduce(e.cf(-0.0f), b.CreateLoad(lanes, acc.lanes));
        value = b.CreateFAdd(value, b.CreateLoad(e.f32(), acc.offset));
        Value *n = b.CreateAdd(n0, e.c64(c));
        if (bias)
          value = b.CreateFAdd(value, e.loadF32(bias, n));
        Value *t = b.CreateAdd(t0, e.c64(r));
        e.storeF32(value, out, b.CreateAdd(b.CreateMul(t, e.c64(N)), n));
      }
  };
  // Columns [first, last) for rows [t0, t0 + R): C at a time, then singly.
  auto columns = [&](Value *t0, int64_t R, int64_t C) {
    Value *groups = b.CreateUDiv(b.CreateSub(last, first), e.c64(C));
    e.forRange(e.c64(0), groups, [&](Value *g) {
      microKernel(t0, R, b.CreateAdd(first, b.CreateMul(g, e.c64(C))), C);
    });
    e.forRange(b.CreateAdd(first, b.CreateMul(groups, e.c64(C))), last,
               [&](Value *n) { microKernel(t0, R, n, 1); });
  };
  Value *rowGroups = b.CreateUDiv(k.rows, e.c64(kIntegerRows));
  e.forRange(e.c64(0), rowGroups, [&](Value *g) {
    columns(b.CreateMul(g, e.c64(kIntegerRows)), kIntegerRows, 2);
  });
  e.forRange(b.CreateMul(rowGroups, e.c64(kIntegerRows)), k.rows,
             [&](Value *t) { columns(t, 1, 4); });
}

// llama.cpp's rope: theta for pair i is p * freq_scale * base^(-2i/dims),
// with base^(-2/dims) raised step by step in float as ggml does.
void emitRope(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t width = k.d.cols, hd = k.d.headDim, dims = k.d.ropeDims;
  int64_t heads = width / hd;
  float thetaScale = std::pow(k.d.freqBase, -2.0f / float(dims));
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, width), *res = k.rowPtr(out, t, width);
    // Copy first: dimensions past rope_dims pass through unchanged.
    if (dims < hd)
      k.e.forRange(0, width, [&](Value *c) {
        k.e.storeF32(k.e.loadF32(in, c), res, c);
      });
    Value *p = b.CreateSIToFP(b.CreateAdd(k.position, t), k.e.f32());
    k.e.reduce(0, dims / 2, p, [&](Value *i, Value *thetaBase) {
      Value *theta = b.CreateFMul(thetaBase, k.e.cf(k.d.freqScale));
      Value *cos = k.e.callMath("cosf", theta);
      Value *sin = k.e.callMath("sinf", theta);
      Value *i0 = k.d.neox ? i : b.CreateShl(i, k.e.c64(1));
      Value *i1 = b.CreateAdd(i0, k.e.c64(k.d.neox ? dims / 2 : 1));
      k.e.forRange(0, heads, [&](Value *h) {
        Value *headBase = b.CreateMul(h, k.e.c64(hd));
        Value *a = b.CreateAdd(headBase, i0), *c = b.CreateAdd(headBase, i1);
        Value *x0 = k.e.loadF32(in, a), *x1 = k.e.loadF32(in, c);
        k.e.storeF32(b.CreateFSub(b.CreateFMul(x0, cos), b.CreateFMul(x1, sin)),
                     res, a);
        k.e.storeF32(b.CreateFAdd(b.CreateFMul(x0, sin), b.CreateFMul(x1, cos)),
                     res, c);
      });
      return b.CreateFMul(thetaBase, k.e.cf(thetaScale));
    });
  });
}

// The KV cache holds f32, or f16 when the description says so.
Value *loadCache(Kernel &k, Value *base, Value *index) {
  if (!k.d.kvHalf)
    return k.e.loadF32(base, index);
  auto &b = k.builder;
  return b.CreateFPExt(b.CreateLoad(b.getHalfTy(), k.e.at(b.getHalfTy(), base, index)),
                       k.e.f32());
}
void storeCache(Kernel &k, Value *value, Value *base, Value *index) {
  if (!k.d.kvHalf)
    return k.e.storeF32(value, base, index);
  auto &b = k.builder;
  b.CreateStore(b.CreateFPTrunc(value, b.getHalfTy()),
                k.e.at(b.getHalfTy(), base, index));
}
// Rounds to f16 and back, where llama.cpp converts an operand to f16.
Value *roundToHalf(Kernel &k, Value *value) {
  if (!k.d.kvHalf)
    return value;
  auto &b = k.builder;
  return b.CreateFPExt(b.CreateFPTrunc(value, b.getHalfTy()), k.e.f32());
}

void emitKvStore(Kernel &k) {
  auto &b = k.builder;
  Value *key = k.arg(0), *value = k.arg(1), *kc = k.arg(2), *vc = k.arg(3);
  int64_t width = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *slot = b.CreateMul(b.CreateAdd(k.position, t), k.e.c64(width));
    Value *kin = k.rowPtr(key, t, width), *vin = k.rowPtr(value, t, width);
    k.e.forRange(0, width, [&](Value *c) {
      Value *at = b.CreateAdd(slot, c);
      storeCache(k, k.e.loadF32(kin, c), kc, at);
      storeCache(k, k.e.loadF32(vin, c), vc, at);
    });
  });
}

// One task per query head: scores against every cached position up to the
// query's own (causal), softmax, weighted sum of the values.
void emitAttention(Kernel &k) {
  auto &b = k.builder;
  Value *q = k.arg(0), *kc = k.arg(1), *vc = k.arg(2), *out = k.arg(3);
  int64_t width = k.d.cols, hd = k.d.headDim;
  int64_t kvWidth = k.d.numKvHeads * hd;
  int64_t group = k.d.numHeads / k.d.numKvHeads;
  Value *scores = k.e.scratch(k.d.contextLength);
  k.e.forRange(k.begin, k.end, [&](Value *h) {
    Value *kvOffset = b.CreateMul(b.CreateUDiv(h, k.e.c64(group)), k.e.c64(hd));
    Value *headOffset = b.CreateMul(h, k.e.c64(hd));
    Value *query = k.e.scratch(hd);
    k.e.forRange(k.e.c64(0), k.rows, [&](Value *t) {
      Value *count = b.CreateAdd(b.CreateAdd(k.position, t), k.e.c64(1));
      Value *queryRow = k.e.at(k.e.f32(), k.rowPtr(q, t, width), headOffset);
      k.e.forRange(0, hd, [&](Value *c) {
        k.e.storeF32(roundToHalf(k, k.e.loadF32(queryRow, c)), query, c);
      });
      Value *max = k.e.reduce(k.e.c64(0), count,
                              k.e.cf(-INFINITY), [&](Value *j, Value *m) {
        Value *keyBase = b.CreateAdd(b.CreateMul(j, k.e.c64(kvWidth)), kvOffset);
        Value *dot = k.e.reduce(0, hd, k.e.cf(0.0f), [&](Value *c, Value *acc) {
          Value *key = loadCache(k, kc, b.CreateAdd(keyBase, c));
          return b.CreateFAdd(acc, b.CreateFMul(k.e.loadF32(query, c), key));
        });
        Value *s = b.CreateFMul(dot, k.e.cf(k.d.scale));
        k.e.storeF32(s, scores, j);
        return b.CreateMaxNum(m, s);
      });
      // The softmax sum in double, as ggml does.
      auto *dbl = b.getDoubleTy();
      Value *sum = k.e.reduce(k.e.c64(0), count, ConstantFP::get(dbl, 0.0),
                              [&](Value *j, Value *acc) {
        Value *w = k.e.callMath("expf", b.CreateFSub(k.e.loadF32(scores, j), max));
        k.e.storeF32(w, scores, j);
        return b.CreateFAdd(acc, b.CreateFPExt(w, dbl));
      });
      Value *inverse = b.CreateFPTrunc(
          b.CreateFDiv(ConstantFP::get(dbl, 1.0), sum), k.e.f32());
      Value *result = k.e.at(k.e.f32(), k.rowPtr(out, t, width), headOffset);
      k.e.forRange(0, hd, [&](Value *c) { k.e.storeF32(k.e.cf(0.0f), result, c); });
      k.e.forRange(k.e.c64(0), count, [&](Value *j) {
        Value *w = roundToHalf(k, b.CreateFMul(k.e.loadF32(scores, j), inverse));
        Value *valueBase = b.CreateAdd(b.CreateMul(j, k.e.c64(kvWidth)), kvOffset);
        k.e.forRange(0, hd, [&](Value *c) {
          Value *v = loadCache(k, vc, b.CreateAdd(valueBase, c));
          Value *acc = b.CreateFAdd(k.e.loadF32(result, c), b.CreateFMul(w, v));
          k.e.storeF32(acc, result, c);
        });
      });
    });
  });
}

void emitBinary(Kernel &k, bool add) {
  auto &b = k.builder;
  Value *lhs = k.arg(0), *rhs = k.arg(1), *out = k.arg(2);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *base = b.CreateMul(t, k.e.c64(n));
    k.e.forRange(0, n, [&](Value *c) {
      Value *i = b.CreateAdd(base, c);
      Value *x = k.e.loadF32(lhs, i), *y = k.e.loadF32(rhs, i);
      k.e.storeF32(add ? b.CreateFAdd(x, y) : b.CreateFMul(x, y), out, i);
    });
  });
}

void emitUnary(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = k.rowPtr(out, t, n);
    if (k.d.kind == KernelKind::Softmax) {
      Value *max = k.e.reduce(0, n, k.e.cf(-INFINITY), [&](Value *c, Value *m) {
        return b.CreateMaxNum(m, k.e.loadF32(in, c));
      });
      Value *sum = k.e.reduce(0, n, k.e.cf(0.0f), [&](Value *c, Value *acc) {
        Value *w = k.e.callMath("expf", b.CreateFSub(k.e.loadF32(in, c), max));
        k.e.storeF32(w, res, c);
        return b.CreateFAdd(acc, w);
      });
      Value *inverse = b.CreateFDiv(k.e.cf(1.0f), sum);
      k.e.forRange(0, n, [&](Value *c) {
        k.e.storeF32(b.CreateFMul(k.e.loadF32(res, c), inverse), res, c);
      });
      return;
    }
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = k.e.loadF32(in, c), *y;
      if (k.d.kind == KernelKind::Silu) {
        Value *e = k.e.callMath("expf", b.CreateFNeg(v));
        y = b.CreateFDiv(v, b.CreateFAdd(k.e.cf(1.0f), e));
      } else { // GELU, tanh form
        Value *cube = b.CreateFMul(b.CreateFMul(v, v), v);
        Value *inner = b.CreateFMul(
            k.e.cf(0.7978845608028654f),
            b.CreateFAdd(v, b.CreateFMul(k.e.cf(0.044715f), cube)));
        Value *th = k.e.callMath("tanhf", inner);
        y = b.CreateFMul(b.CreateFMul(k.e.cf(0.5f), v),
                         b.CreateFAdd(k.e.cf(1.0f), th));
      }
      k.e.storeF32(y, res, c);
    });
  });
}

// Each row as llama.cpp's dot products see it, in f32: rounded to f16 or
// bf16, or quantized to q8 blocks and dequantized again. q8_0 (x86 SIMD
// path): d = amax / 127 stored as f16, q = round-half-even(x * 127 / amax).
// q8_K: the value of largest magnitude (sign kept) maps to -127, q =
// min(127, round-half-even(x * -127 / max)), d = 1 / that scale in f32.
void emitRoundActivations(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  GgmlType format = k.d.format;
  auto roundEven = [&](Value *v) {
    return b.CreateUnaryIntrinsic(Intrinsic::roundeven, v);
  };
  e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = k.rowPtr(out, t, n);
    if (format == GgmlType::F16 || format == GgmlType::BF16) {
      Type *narrow = format == GgmlType::F16 ? b.getHalfTy() : b.getBFloatTy();
      e.forRange(0, n, [&](Value *c) {
        Value *v = b.CreateFPExt(b.CreateFPTrunc(e.loadF32(in, c), narrow), e.f32());
        e.storeF32(v, res, c);
      });
      return;
    }
    bool kBlocks = format == GgmlType::Q8_K;
    int64_t block = kBlocks ? 256 : 32;
    e.forRange(0, n / block, [&](Value *blockIndex) {
      Value *base = b.CreateMul(blockIndex, e.c64(block));
      auto at = [&](Value *j) { return b.CreateAdd(base, j); };
      Value *scale, *step; // q = x * scale; value = q * step
      if (!kBlocks) {
        Value *amax = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
          return b.CreateMaxNum(m, b.CreateUnaryIntrinsic(Intrinsic::fabs,
                                                          e.loadF32(in, at(j))));
        });
        Value *d = b.CreateFDiv(amax, e.cf(127.0f));
        step = b.CreateFPExt(b.CreateFPTrunc(d, b.getHalfTy()), e.f32());
        Value *nonzero = b.CreateFCmpONE(amax, e.cf(0.0f));
        scale = b.CreateSelect(nonzero, b.CreateFDiv(e.cf(127.0f), amax), e.cf(0.0f));
      } else {
        // The first element of largest magnitude, with its sign.
        Value *extreme = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
          Value *v = e.loadF32(in, at(j));
          Value *larger = b.CreateFCmpOGT(b.CreateUnaryIntrinsic(Intrinsic::fabs, v),
                                          b.CreateUnaryIntrinsic(Intrinsic::fabs, m));
          return b.CreateSelect(larger, v, m);
        });
        Value *nonzero = b.CreateFCmpONE(extreme, e.cf(0.0f));
        Value *inverse = b.CreateFDiv(e.cf(-127.0f), extreme);
        scale = b.CreateSelect(nonzero, inverse, e.cf(0.0f));
        step = b.CreateSelect(nonzero, b.CreateFDiv(e.cf(1.0f), inverse), e.cf(0.0f));
      }
      e.forRange(0, block, [&](Value *j) {
        Value *q = roundEven(b.CreateFMul(e.loadF32(in, at(j)), scale));
        if (kBlocks)
          q = b.CreateMinNum(q, e.cf(127.0f));
        e.storeF32(b.CreateFMul(q, step), res, at(j));
      });
    });
  });
}

// Each row quantized to q8 blocks for integer dot products, as llama.cpp
// quantizes it (same formulas as emitRoundActivations), in the layout of
// QuantizedActivations.h: bytes, scales, then q8_1's s = f16(d * sum q) per
// 32 (d before f16 rounding) or q8_K's sums per 16.
void emitQuantizeActivations(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  bool kBlocks = k.d.format == GgmlType::Q8_K;
  QuantizedRowLayout layout = quantizedRowLayout(k.d.format, n);
  int64_t block = layout.block;
  e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n);
    Value *row = e.at(b.getInt8Ty(), out, b.CreateMul(t, e.c64(layout.rowBytes)));
    Value *scales = e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset));
    Value *extra = e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset));
    e.forRange(0, n / block, [&](Value *blockIndex) {
      Value *base = b.CreateMul(blockIndex, e.c64(block));
      auto at = [&](Value *j) { return b.CreateAdd(base, j); };
      Value *scale, *stored, *unrounded = nullptr;
      if (!kBlocks) {
        Value *amax = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
          return b.CreateMaxNum(m, b.CreateUnaryIntrinsic(Intrinsic::fabs,
                                                          e.loadF32(in, at(j))));
        });
        unrounded = b.CreateFDiv(amax, e.cf(127.0f));
        stored = b.CreateFPExt(b.CreateFPTrunc(unrounded, b.getHalfTy()), e.f32());
        Value *nonzero = b.CreateFCmpONE(amax, e.cf(0.0f));
        scale = b.CreateSelect(nonzero, b.CreateFDiv(e.cf(127.0f), amax), e.cf(0.0f));
      } else {
        Value *extreme = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
          Value *v = e.loadF32(in, at(j));
          Value *larger = b.CreateFCmpOGT(b.CreateUnaryIntrinsic(Intrinsic::fabs, v),
                                          b.CreateUnaryIntrinsic(Intrinsic::fabs, m));
          return b.CreateSelect(larger, v, m);
        });
        Value *nonzero = b.CreateFCmpONE(extreme, e.cf(0.0f));
        Value *inverse = b.CreateFDiv(e.cf(-127.0f), extreme);
        scale = b.CreateSelect(nonzero, inverse, e.cf(0.0f));
        stored = b.CreateSelect(nonzero, b.CreateFDiv(e.cf(1.0f), inverse), e.cf(0.0f));
      }
      e.storeF32(stored, scales, blockIndex);
      // Quantize in groups of 16: q8_K keeps each group's sum, q8_0 the
      // block's as s = f16(d * sum).
      Value *blockSum = e.reduce(0, block / 16, e.c32(0), [&](Value *group, Value *total) {
        Value *groupBase = b.CreateMul(group, e.c64(16));
        Value *sum = e.reduce(0, 16, e.c32(0), [&](Value *j, Value *acc) {
          Value *i = at(b.CreateAdd(groupBase, j));
          Value *q = b.CreateUnaryIntrinsic(Intrinsic::roundeven,
                                            b.CreateFMul(e.loadF32(in, i), scale));
          if (kBlocks)
            q = b.CreateMinNum(q, e.cf(127.0f));
          Value *qi = b.CreateFPToSI(q, e.i32());
          b.CreateStore(b.CreateTrunc(qi, b.getInt8Ty()), e.at(b.getInt8Ty(), row, i));
          return b.CreateAdd(acc, qi);
        });
        if (kBlocks) {
          Value *index = b.CreateAdd(b.CreateMul(blockIndex, e.c64(block / 16)), group);
          b.CreateStore(sum, e.at(e.i32(), extra, index));
        }
        return b.CreateAdd(total, sum);
      });
      if (!kBlocks) {
        Value *s = b.CreateFMul(unrounded, e.toFloat(blockSum));
        s = b.CreateFPExt(b.CreateFPTrunc(s, b.getHalfTy()), e.f32());
        e.storeF32(s, extra, blockIndex);
      }
    });
  });
}

void emitSliceColumns(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, k.d.cols), *res = k.rowPtr(out, t, k.d.outCols);
    k.e.forRange(0, k.d.outCols, [&](Value *c) {
      k.e.storeF32(k.e.loadF32(in, k.builder.CreateAdd(c, k.e.c64(k.d.offset))),
                   res, c);
    });
  });
}

void emitLastRow(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  Value *last = k.builder.CreateSub(k.rows, k.e.c64(1));
  Value *in = k.rowPtr(x, last, k.d.cols);
  k.e.forRange(0, k.d.cols, [&](Value *c) {
    k.e.storeF32(k.e.loadF32(in, c), out, c);
  });
}

} // namespace

Status emitKernel(Module &module, const KernelDesc &desc,
                  const std::string &symbol, const EmitTarget &target) {
  if ((desc.kind == KernelKind::Matmul || desc.kind == KernelKind::Embedding) &&
      !canDecode(desc.format))
    return makeError("no CPU kernel reads ",
                     std::string(ggmlTypeInfo(desc.format).name), " weights");
  if (desc.kind == KernelKind::Matmul && desc.activations != GgmlType::F32 &&
      !hasIntegerDot(desc.format))
    return makeError("no integer dot product for ",
                     std::string(ggmlTypeInfo(desc.format).name), " weights");
  Kernel k(module, desc, symbol, target);
  switch (desc.kind) {
  case KernelKind::Embedding: emitEmbedding(k); break;
  case KernelKind::Positions: emitPositions(k); break;
  case KernelKind::RmsNorm: emitRmsNorm(k); break;
  case KernelKind::LayerNorm: emitLayerNorm(k); break;
  case KernelKind::Matmul:
    if (desc.activations != GgmlType::F32)
      emitIntegerMatmul(k);
    else
      emitMatmul(k);
    break;
  case KernelKind::Rope: emitRope(k); break;
  case KernelKind::KvStore: emitKvStore(k); break;
  case KernelKind::Attention: emitAttention(k); break;
  case KernelKind::Add: emitBinary(k, true); break;
  case KernelKind::Mul: emitBinary(k, false); break;
  case KernelKind::Silu:
  case KernelKind::Gelu:
  case KernelKind::Softmax: emitUnary(k); break;
  case KernelKind::SliceColumns: emitSliceColumns(k); break;
  case KernelKind::LastRow: emitLastRow(k); break;
  case KernelKind::RoundActivations: emitRoundActivations(k); break;
  case KernelKind::QuantizeActivations: emitQuantizeActivations(k); break;
  }
  k.finish();
  return Status::success();
}

} // namespace kiln::codegen::cpu
