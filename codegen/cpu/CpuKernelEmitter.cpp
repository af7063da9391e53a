#include "CpuKernelEmitter.h"

#include "codegen/llvm/BlockVectors.h"
#include "codegen/llvm/GgmlNumerics.h"
#include "codegen/cpu/IntegerDot.h"
#include "codegen/llvm/LoopEmitter.h"
#include "codegen/QuantizedActivations.h"
#include "codegen/llvm/WeightDecode.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

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

// One weight of a matmul kernel: its input rows, weight rows and bias, the
// output columns [first, last) this task computes, and what becomes of
// each sum (bias, epilogue, store).
struct MatmulSlice {
  Value *x = nullptr, *w = nullptr, *bias = nullptr;
  GgmlType format = GgmlType::F32;
  int64_t N = 0;
  Value *first = nullptr, *last = nullptr;
  std::function<void(Value *sum, Value *t, Value *n)> store;
};

void roundRow(Kernel &k, Value *in, Value *res, int64_t n, GgmlType format);
void quantizeRow(Kernel &k, Value *in, Value *row, int64_t n, GgmlType format);

// A norm fused into the matmuls after it writes row t as they read it:
// rounded or quantized from the normalized row in `scratch`.
void convertNormRow(Kernel &k, Value *scratch, Value *out, Value *t) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  FastMathFlags flags;
  flags.setAllowReassoc();
  flags.setAllowContract();
  b.setFastMathFlags(flags);
  int64_t n = k.d.cols;
  if (k.d.convert == RowConversion::Round) {
    roundRow(k, scratch, k.rowPtr(out, t, n), n, k.d.format);
    return;
  }
  int64_t bytes = quantizedRowLayout(k.d.format, n).rowBytes;
  quantizeRow(k, scratch, k.e.at(b.getInt8Ty(), out, b.CreateMul(t, k.e.c64(bytes))), n,
              k.d.format);
}

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

// Sums in double, one term after the other, as llama.cpp's norms do.
Value *sumDouble(Kernel &k, int64_t count,
                 const std::function<Value *(Value *)> &term) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  return k.e.reduce(0, count, ConstantFP::get(b.getDoubleTy(), 0.0),
                    [&](Value *c, Value *acc) {
                      return b.CreateFAdd(acc, b.CreateFPExt(term(c), b.getDoubleTy()));
                    });
}

// Every operation rounded as written (llama.cpp's order), here and in the
// layer norm.
void emitRmsNorm(Kernel &k) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *x = k.arg(0), *w = k.arg(1), *out = k.arg(2);
  int64_t n = k.d.cols;
  Value *scratch = k.d.convert != RowConversion::None ? k.e.scratch(n) : nullptr;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = scratch ? scratch : k.rowPtr(out, t, n);
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
    if (scratch)
      convertNormRow(k, scratch, out, t);
  });
}

void emitLayerNorm(Kernel &k) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *x = k.arg(0), *w = k.arg(1), *bias = k.arg(2), *out = k.arg(3);
  int64_t n = k.d.cols;
  auto *dbl = b.getDoubleTy();
  Value *scratch = k.d.convert != RowConversion::None ? k.e.scratch(n) : nullptr;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = scratch ? scratch : k.rowPtr(out, t, n);
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
    if (scratch)
      convertNormRow(k, scratch, out, t);
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
  Value *bias = k.d.hasBias ? k.arg(2) : nullptr;
  Value *out = k.arg(k.d.hasBias ? 3 : 2);
  e.ifElse(
      b.CreateICmpSGT(k.rows, e.c64(1)),
      [&] {
        e.forRange(k.begin, k.end, [&](Value *tileIndex) {
          emitPanelMatmul(k, x, w, bias, out, tileIndex);
        });
      },
      perColumn);
}

// The tiling shared by the matmul kernels: each task computes
// kMatmulTile output columns for every input row; `body(t0, R, n0, C)`
// computes rows [t0, t0 + R) x columns [n0, n0 + C); `batched` says the
// call has many tokens (also for its leftover rows). Many tokens go
// batchRows x batchColumns at a time, one token 1 x singleColumns; the
// leftovers one column at a time.
struct MicroTiles {
  int64_t batchRows, batchColumns, singleColumns;
};
using MicroKernel =
    std::function<void(Value *t0, int64_t R, Value *n0, int64_t C, bool batched)>;

void forEachMicroTile(Kernel &k, const MatmulSlice &slice, MicroTiles tiles,
                      const MicroKernel &body) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *first = slice.first, *last = slice.last;
  auto columns = [&](Value *t0, int64_t R, int64_t C, bool batched) {
    Value *groups = b.CreateUDiv(b.CreateSub(last, first), e.c64(C));
    e.forRange(e.c64(0), groups, [&](Value *g) {
      body(t0, R, b.CreateAdd(first, b.CreateMul(g, e.c64(C))), C, batched);
    });
    e.forRange(b.CreateAdd(first, b.CreateMul(groups, e.c64(C))), last,
               [&](Value *n) { body(t0, R, n, 1, batched); });
  };
  Value *rowGroups = b.CreateUDiv(k.rows, e.c64(tiles.batchRows));
  e.ifElse(
      b.CreateICmpSGT(k.rows, e.c64(1)),
      [&] {
        e.forRange(e.c64(0), rowGroups, [&](Value *g) {
          columns(b.CreateMul(g, e.c64(tiles.batchRows)), tiles.batchRows,
                  tiles.batchColumns, true);
        });
        e.forRange(b.CreateMul(rowGroups, e.c64(tiles.batchRows)), k.rows,
                   [&](Value *t) { columns(t, 1, tiles.batchColumns, true); });
      },
      [&] { columns(e.c64(0), 1, tiles.singleColumns, false); });
}

// q4_0 with a row count that is a multiple of 8: eight columns at a time
// in llama.cpp's order for repacked q4_0 (emitQ40EightColumns), 2 input
// rows at a time in prefill (4 spilled: 72 stack accesses in the loop).
void emitQ40Matmul(Kernel &k, const MatmulSlice &slice, const IntegerDotTarget &target) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  Value *x = slice.x, *w = slice.w;
  QuantizedRowLayout layout = quantizedRowLayout(k.d.activations, K);
  int64_t stride = rowBytes(GgmlType::Q4_0, K);
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  Value *accumulators[4];
  for (Value *&acc : accumulators)
    acc = e.local(lanes);
  forEachMicroTile(k, slice, {2, 8, 8}, [&](Value *t0, int64_t R, Value *n0, int64_t C, bool) {
    // Tiles start at multiples of 16 and N is a multiple of 8, so every
    // task's columns split into groups of 8: the single-column loop that
    // forEachMicroTile emits for leftovers never runs.
    if (C != 8)
      return;
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)), nullptr});
      b.CreateStore(ConstantAggregateZero::get(lanes), accumulators[r]);
    }
    e.forRange(0, K / 32, [&](Value *blockIndex) {
      Value *blocks[8];
      for (int64_t c = 0; c < 8; ++c)
        blocks[c] = e.at(b.getInt8Ty(), w,
                         b.CreateAdd(b.CreateMul(b.CreateAdd(n0, e.c64(c)), e.c64(stride)),
                                     b.CreateMul(blockIndex, e.c64(18))));
      emitQ40EightColumns(e, target, blocks, blockIndex, rows,
                          ArrayRef<Value *>(accumulators, R));
    });
    for (int64_t r = 0; r < R; ++r) {
      Value *sums = b.CreateLoad(lanes, accumulators[r]);
      for (int64_t c = 0; c < 8; ++c)
        slice.store(b.CreateExtractElement(sums, uint64_t(c)), b.CreateAdd(t0, e.c64(r)),
                    b.CreateAdd(n0, e.c64(c)));
    }
  });
}

// Matmul on quantized input rows (integer dot products, IntegerDot.h):
// each weight block is unpacked once for the R rows, each row's block
// loaded once for the C columns, and the R x C accumulator chains are
// independent. Many tokens: 4 rows x 1 column (4 x 2 spilled registers:
// q8_0 TinyLlama prefill 34 tok/s against 54); one token: 4 columns.
void emitIntegerMatmul(Kernel &k, const MatmulSlice &slice) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  GgmlType format = slice.format;
  Value *x = slice.x, *w = slice.w;
  QuantizedRowLayout layout = quantizedRowLayout(k.d.activations, K);
  int64_t stride = rowBytes(format, K);
  int64_t blockElements = integerDotBlockElements(format);
  int64_t blockBytes = rowBytes(format, blockElements);
  IntegerDotTarget target{k.target.avx2};
  if (format == GgmlType::Q4_0 && slice.N % 8 == 0) {
    emitQ40Matmul(k, slice, target);
    return;
  }
  auto *lanes = FixedVectorType::get(e.f32(), kDotLanes);
  std::vector<DotAccumulators> accumulators;
  for (int64_t i = 0; i < 8; ++i)
    accumulators.push_back({e.local(lanes), e.local(FixedVectorType::get(e.f32(), 4))});

  forEachMicroTile(k, slice, {4, 1, 4}, [&](Value *t0, int64_t R, Value *n0, int64_t C, bool) {
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)),
                      e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset))});
    }
    for (int64_t i = 0; i < R * C; ++i) {
      b.CreateStore(ConstantAggregateZero::get(lanes), accumulators[i].lanes);
      b.CreateStore(ConstantAggregateZero::get(FixedVectorType::get(e.f32(), 4)),
                    accumulators[i].offset);
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
        Value *value = emitDotResult(e, accumulators[c * R + r]);
        slice.store(value, b.CreateAdd(t0, e.c64(r)), b.CreateAdd(n0, e.c64(c)));
      }
  });
}

// Matmul on f32/f16/bf16 weights in llama.cpp's summation order
// (GgmlNumerics.h). Many tokens, as its sgemm: per output one eight-lane
// FMA accumulator over K, lanes added interleaved; 3 rows x 4 columns at a
// time (f16 TinyLlama prefill ~40-56 tok/s against ~39 for 4 x 2). One token, as ggml_vec_dot_f32/f16: four accumulators over chunks
// of 32, folded and added adjacent, the rest of K one by one; 2 columns.
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
  // Eight weights of row n from element kk, as floats.
  auto loadWeights = [&](Value *n, Value *kk) -> Value * {
    Value *index = b.CreateAdd(b.CreateMul(n, e.c64(K)), kk);
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
  auto loadInputs = [&](Value *t, Value *kk) {
    return b.CreateAlignedLoad(
        lanes, e.at(e.f32(), x, b.CreateAdd(b.CreateMul(t, e.c64(K)), kk)), Align(4));
  };
  forEachMicroTile(k, slice, {3, 4, 2}, [&](Value *t0, int64_t R, Value *n0, int64_t C,
                                     bool batched) {
    IRBuilder<>::FastMathFlagGuard guard(b);
    b.clearFastMathFlags();
    Value *zero = ConstantAggregateZero::get(lanes);
    auto column = [&](int64_t c) { return b.CreateAdd(n0, e.c64(c)); };
    auto row = [&](int64_t r) { return b.CreateAdd(t0, e.c64(r)); };
    auto accumulate = [&](Value *acc, Value *n, Value *t, Value *kk) {
      b.CreateStore(emitFma(b, loadInputs(t, kk), loadWeights(n, kk),
                            b.CreateLoad(lanes, acc)),
                    acc);
    };
    if (batched) {
      for (int64_t i = 0; i < R * C; ++i)
        b.CreateStore(zero, accumulators[i]);
      e.forRange(0, K / 8, [&](Value *chunk) {
        Value *kk = b.CreateMul(chunk, e.c64(8));
        for (int64_t c = 0; c < C; ++c)
          for (int64_t r = 0; r < R; ++r)
            accumulate(accumulators[c * R + r], column(c), row(r), kk);
      });
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
    e.forRange(0, whole / 32, [&](Value *chunk) {
      Value *base = b.CreateMul(chunk, e.c64(32));
      for (int64_t c = 0; c < C; ++c)
        for (int64_t a = 0; a < 4; ++a)
          accumulate(accumulators[4 * c + a], column(c), row(0),
                     b.CreateAdd(base, e.c64(8 * a)));
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

// llama.cpp's rope: theta for pair i is p * freq_scale * base^(-2i/dims),
// with base^(-2/dims) raised step by step in float as ggml does. Calls
// body(i, cos, sin) for the pairs i in [0, rope_dims / 2) at position p.
void forEachRopeAngle(Kernel &k, Value *p,
                      const std::function<void(Value *i, Value *cos, Value *sin)> &body) {
  auto &b = k.builder;
  float thetaScale = std::pow(k.d.freqBase, -2.0f / float(k.d.ropeDims));
  k.e.reduce(0, k.d.ropeDims / 2, p, [&](Value *i, Value *thetaBase) {
    Value *theta = b.CreateFMul(thetaBase, k.e.cf(k.d.freqScale));
    body(i, k.e.callMath("cosf", theta), k.e.callMath("sinf", theta));
    return b.CreateFMul(thetaBase, k.e.cf(thetaScale));
  });
}

// Rotates the pair in[a], in[c] into res[a], res[c].
void emitRopeRotation(Kernel &k, Value *in, Value *res, Value *a, Value *c,
                      Value *cos, Value *sin) {
  auto &b = k.builder;
  Value *x0 = k.e.loadF32(in, a), *x1 = k.e.loadF32(in, c);
  // As GCC contracts ggml's x0*cos - x1*sin (first product fused).
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  k.e.storeF32(emitFma(b, x0, cos, b.CreateFNeg(b.CreateFMul(x1, sin))), res, a);
  k.e.storeF32(emitFma(b, x0, sin, b.CreateFMul(x1, cos)), res, c);
}

void emitRope(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t width = k.d.cols, hd = k.d.headDim, dims = k.d.ropeDims;
  int64_t heads = width / hd;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, width), *res = k.rowPtr(out, t, width);
    // Copy first: dimensions past rope_dims pass through unchanged.
    if (dims < hd)
      k.e.forRange(0, width, [&](Value *c) {
        k.e.storeF32(k.e.loadF32(in, c), res, c);
      });
    Value *p = b.CreateSIToFP(b.CreateAdd(k.position, t), k.e.f32());
    forEachRopeAngle(k, p, [&](Value *i, Value *cos, Value *sin) {
      Value *i0 = k.d.neox ? i : b.CreateShl(i, k.e.c64(1));
      Value *i1 = b.CreateAdd(i0, k.e.c64(k.d.neox ? dims / 2 : 1));
      k.e.forRange(0, heads, [&](Value *h) {
        Value *headBase = b.CreateMul(h, k.e.c64(hd));
        emitRopeRotation(k, in, res, b.CreateAdd(headBase, i0), b.CreateAdd(headBase, i1),
                         cos, sin);
      });
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
// query's own (causal), softmax, weighted sum of the values; in the order
// llama.cpp's CPU path adds (GgmlNumerics.h). Many tokens (its sgemm): one
// eight-lane accumulator per dot, every eighth product in a lane, lanes
// added interleaved. One token (ggml_vec_dot_f16): four eight-lane
// accumulators over chunks of 32, folded 0+2, 1+3, then 0+1, lanes added
// adjacent. The softmax uses ggml's polynomial exp in groups of eight,
// each group's sum added in double.
void emitAttention(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *q = k.arg(0), *kc = k.arg(1), *vc = k.arg(2), *out = k.arg(3);
  int64_t width = k.d.cols, hd = k.d.headDim;
  int64_t kvWidth = k.d.numKvHeads * hd;
  int64_t group = k.d.numHeads / k.d.numKvHeads;
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  auto *dbl = b.getDoubleTy();
  int64_t chunks = hd / 8;
  // Positions are padded to a multiple of 32 (llama.cpp pads its KV view
  // so; the padding's weights are zero).
  int64_t padded = (k.d.contextLength + 31) / 32 * 32;
  Value *scores = e.scratch(padded);
  Value *query = e.scratch(hd);
  Value *partial = e.scratch(32 * hd);
  Value *accumulators[4];
  for (Value *&acc : accumulators)
    acc = e.local(lanes);

  auto loadCache8 = [&](Value *base, Value *index) -> Value * {
    if (!k.d.kvHalf)
      return b.CreateAlignedLoad(lanes, e.at(e.f32(), base, index), Align(4));
    auto *halves = FixedVectorType::get(b.getHalfTy(), 8);
    Value *raw = b.CreateAlignedLoad(halves, e.at(b.getHalfTy(), base, index), Align(2));
    return b.CreateFPExt(raw, lanes);
  };
  // One head of one query row, summing in sgemm (`batched`) or vec_dot order.
  auto head = [&](Value *h, Value *t, bool batched) {
    IRBuilder<>::FastMathFlagGuard guard(b);
    b.clearFastMathFlags();
    Value *kvOffset = b.CreateMul(b.CreateUDiv(h, e.c64(group)), e.c64(hd));
    Value *headOffset = b.CreateMul(h, e.c64(hd));
    Value *count = b.CreateAdd(b.CreateAdd(k.position, t), e.c64(1));
    Value *queryRow = e.at(e.f32(), k.rowPtr(q, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      e.storeF32(roundToHalf(k, e.loadF32(queryRow, c)), query, c);
    });
    // Scores and their maximum.
    Value *max = e.reduce(e.c64(0), count, e.cf(-INFINITY), [&](Value *j, Value *m) {
      Value *keyBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
      Value *zero = ConstantAggregateZero::get(lanes);
      for (Value *acc : accumulators)
        b.CreateStore(zero, acc);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *x = b.CreateAlignedLoad(lanes, e.at(e.f32(), query, e.c64(8 * chunk)), Align(4));
        Value *y = loadCache8(kc, b.CreateAdd(keyBase, e.c64(8 * chunk)));
        Value *acc = accumulators[batched ? 0 : chunk % 4];
        b.CreateStore(emitFma(b, x, y, b.CreateLoad(lanes, acc)), acc);
      }
      Value *dot;
      if (batched) {
        dot = emitLaneSum(b, b.CreateLoad(lanes, accumulators[0]), LaneTree::Interleaved);
      } else {
        Value *x[4];
        for (int i = 0; i < 4; ++i)
          x[i] = b.CreateLoad(lanes, accumulators[i]);
        Value *folded = b.CreateFAdd(b.CreateFAdd(x[0], x[2]), b.CreateFAdd(x[1], x[3]));
        dot = emitLaneSum(b, folded, LaneTree::Adjacent);
      }
      // Head sizes that are not a multiple of 8: the rest one by one.
      for (int64_t c = 8 * chunks; c < hd; ++c) {
        Value *key = loadCache(k, kc, b.CreateAdd(keyBase, e.c64(c)));
        dot = emitFma(b, e.loadF32(query, e.c64(c)), key, dot);
      }
      Value *s = b.CreateFMul(dot, e.cf(k.d.scale));
      e.storeF32(s, scores, j);
      return b.CreateMaxNum(m, s);
    });
    // exp(s - max) in groups of eight; each group's lanes summed in float,
    // the groups in double.
    Value *groups = b.CreateUDiv(b.CreateAdd(count, e.c64(7)), e.c64(8));
    Value *sum = e.reduce(e.c64(0), groups, ConstantFP::get(dbl, 0.0), [&](Value *g, Value *acc) {
      Value *base = b.CreateMul(g, e.c64(8));
      Value *s8 = b.CreateAlignedLoad(lanes, e.at(e.f32(), scores, base), Align(4));
      Value *w = emitGgmlExp(b, b.CreateFSub(s8, b.CreateVectorSplat(8, max)));
      SmallVector<Constant *, 8> offsets;
      for (int i = 0; i < 8; ++i)
        offsets.push_back(b.getInt64(i));
      Value *positions = b.CreateAdd(b.CreateVectorSplat(8, base), ConstantVector::get(offsets));
      Value *valid = b.CreateICmpSLT(positions, b.CreateVectorSplat(8, count));
      w = b.CreateSelect(valid, w, ConstantAggregateZero::get(lanes));
      b.CreateAlignedStore(w, e.at(e.f32(), scores, base), Align(4));
      return b.CreateFAdd(acc, b.CreateFPExt(emitLaneSum(b, w, LaneTree::Interleaved), dbl));
    });
    Value *inverse = b.CreateFPTrunc(b.CreateFDiv(ConstantFP::get(dbl, 1.0), sum), e.f32());
    // Weighted values: position j adds into partial row j % 8 (batched) or
    // j % 32, element by element with FMA; the rows are then folded.
    int64_t rowsUsed = batched ? 8 : 32;
    e.forRange(0, rowsUsed * hd, [&](Value *i) { e.storeF32(e.cf(0.0f), partial, i); });
    e.forRange(e.c64(0), count, [&](Value *j) {
      Value *w = roundToHalf(k, b.CreateFMul(e.loadF32(scores, j), inverse));
      Value *valueBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
      Value *row = b.CreateMul(b.CreateURem(j, e.c64(rowsUsed)), e.c64(hd));
      Value *splat = b.CreateVectorSplat(8, w);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *at = e.at(e.f32(), partial, b.CreateAdd(row, e.c64(8 * chunk)));
        Value *v = loadCache8(vc, b.CreateAdd(valueBase, e.c64(8 * chunk)));
        Value *acc = b.CreateAlignedLoad(lanes, at, Align(4));
        b.CreateAlignedStore(emitFma(b, splat, v, acc), at, Align(4));
      }
      for (int64_t c = 8 * chunks; c < hd; ++c) {
        Value *at = b.CreateAdd(row, e.c64(c));
        Value *v = loadCache(k, vc, b.CreateAdd(valueBase, e.c64(c)));
        e.storeF32(emitFma(b, w, v, e.loadF32(partial, at)), partial, at);
      }
    });
    Value *result = e.at(e.f32(), k.rowPtr(out, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      auto part = [&](int64_t r) { return e.loadF32(partial, b.CreateAdd(e.c64(r * hd), c)); };
      Value *lanes8 = PoisonValue::get(lanes);
      for (int64_t l = 0; l < 8; ++l) {
        Value *value = part(l);
        if (!batched) // accumulators a = 0..3 of lane l: rows 8a + l
          value = b.CreateFAdd(b.CreateFAdd(part(l), part(16 + l)),
                               b.CreateFAdd(part(8 + l), part(24 + l)));
        lanes8 = b.CreateInsertElement(lanes8, value, uint64_t(l));
      }
      e.storeF32(emitLaneSum(b, lanes8, batched ? LaneTree::Interleaved : LaneTree::Adjacent),
                 result, c);
    });
  };
  e.forRange(k.begin, k.end, [&](Value *h) {
    e.forRange(e.c64(0), k.rows, [&](Value *t) {
      e.ifElse(b.CreateICmpSGT(k.rows, e.c64(1)), [&] { head(h, t, true); },
               [&] { head(h, t, false); });
    });
  });
}

// Flash attention, one task per query head: the cached positions in tiles
// of 32; per tile the scores (scale * q.k, eight-lane FMA dots), their
// running maximum m and sum l (ggml's polynomial exp), and the output
// accumulators rescaled by exp(m_old - m_new) and then added w_j * v_j,
// eight columns at a time in registers. No row of scores is kept: memory
// does not grow with the context.
void emitFlashAttention(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *q = k.arg(0), *kc = k.arg(1), *vc = k.arg(2), *out = k.arg(3);
  int64_t width = k.d.cols, hd = k.d.headDim;
  int64_t kvWidth = k.d.numKvHeads * hd;
  int64_t group = k.d.numHeads / k.d.numKvHeads;
  constexpr int64_t kTile = 32;
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  // Head columns `width` at a time: 32 (four independent FMA chains, as
  // four registers) when the head allows, else 8.
  int64_t vw = hd % 64 == 0 ? 64 : hd % 32 == 0 ? 32 : 8;
  auto *wide = FixedVectorType::get(e.f32(), vw);
  int64_t chunks = hd / vw;
  Value *scores = e.scratch(kTile);
  Value *query = e.scratch(hd);
  Value *output = e.scratch(hd);
  Value *runningMax = e.local(e.f32()), *runningSum = e.local(e.f32());

  auto loadWide = [&](Value *base, Value *index) -> Value * {
    if (!k.d.kvHalf)
      return b.CreateAlignedLoad(wide, e.at(e.f32(), base, index), Align(4));
    auto *halves = FixedVectorType::get(b.getHalfTy(), vw);
    return b.CreateFPExt(
        b.CreateAlignedLoad(halves, e.at(b.getHalfTy(), base, index), Align(2)), wide);
  };
  // The eight-lane sum of a wide vector's eight-lane parts.
  auto foldToEight = [&](Value *v) {
    Value *sum = nullptr;
    for (int64_t part = 0; part < vw / 8; ++part) {
      SmallVector<int, 8> lanesOf;
      for (int i = 0; i < 8; ++i)
        lanesOf.push_back(int(8 * part + i));
      Value *slice = b.CreateShuffleVector(v, lanesOf);
      sum = sum ? b.CreateFAdd(sum, slice) : slice;
    }
    return sum;
  };
  auto head = [&](Value *h, Value *t) {
    Value *kvOffset = b.CreateMul(b.CreateUDiv(h, e.c64(group)), e.c64(hd));
    Value *headOffset = b.CreateMul(h, e.c64(hd));
    Value *count = b.CreateAdd(b.CreateAdd(k.position, t), e.c64(1));
    Value *queryRow = e.at(e.f32(), k.rowPtr(q, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      e.storeF32(roundToHalf(k, e.loadF32(queryRow, c)), query, c);
      e.storeF32(e.cf(0.0f), output, c);
    });
    b.CreateStore(e.cf(-INFINITY), runningMax);
    b.CreateStore(e.cf(0.0f), runningSum);
    Value *tiles = b.CreateUDiv(b.CreateAdd(count, e.c64(kTile - 1)), e.c64(kTile));
    e.forRange(e.c64(0), tiles, [&](Value *tileIndex) {
      Value *j0 = b.CreateMul(tileIndex, e.c64(kTile));
      Value *j1 = b.CreateAdd(j0, e.c64(kTile));
      j1 = b.CreateSelect(b.CreateICmpSLT(j1, count), j1, count);
      Value *tileMax = e.reduce(j0, j1, e.cf(-INFINITY), [&](Value *j, Value *m) {
        Value *keyBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
        Value *acc = ConstantAggregateZero::get(wide);
        for (int64_t chunk = 0; chunk < chunks; ++chunk)
          acc = emitFma(b, b.CreateAlignedLoad(wide, e.at(e.f32(), query, e.c64(vw * chunk)),
                                               Align(4)),
                        loadWide(kc, b.CreateAdd(keyBase, e.c64(vw * chunk))), acc);
        Value *s = b.CreateFMul(emitLaneSum(b, foldToEight(acc), LaneTree::Interleaved),
                                e.cf(k.d.scale));
        e.storeF32(s, scores, b.CreateSub(j, j0));
        return b.CreateMaxNum(m, s);
      });
      Value *oldMax = b.CreateLoad(e.f32(), runningMax);
      Value *newMax = b.CreateMaxNum(oldMax, tileMax);
      Value *correction = e.callMath("expf", b.CreateFSub(oldMax, newMax));
      // Weights of the tile; lanes past its end are zero.
      Value *tileSum = e.cf(0.0f);
      Value *valid = b.CreateSub(j1, j0);
      for (int64_t v = 0; v < kTile / 8; ++v) {
        Value *at = e.at(e.f32(), scores, e.c64(8 * v));
        Value *s8 = b.CreateAlignedLoad(lanes, at, Align(4));
        Value *w = emitGgmlExp(b, b.CreateFSub(s8, b.CreateVectorSplat(8, newMax)));
        SmallVector<Constant *, 8> offsets;
        for (int i = 0; i < 8; ++i)
          offsets.push_back(b.getInt64(8 * v + i));
        Value *inside = b.CreateICmpSLT(ConstantVector::get(offsets),
                                        b.CreateVectorSplat(8, valid));
        w = b.CreateSelect(inside, w, ConstantAggregateZero::get(lanes));
        b.CreateAlignedStore(w, at, Align(4));
        tileSum = b.CreateFAdd(tileSum, emitLaneSum(b, w, LaneTree::Interleaved));
      }
      b.CreateStore(b.CreateFAdd(b.CreateFMul(b.CreateLoad(e.f32(), runningSum), correction),
                                 tileSum),
                    runningSum);
      b.CreateStore(newMax, runningMax);
      Value *scaleVector = b.CreateVectorSplat(vw, correction);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *at = e.at(e.f32(), output, e.c64(vw * chunk));
        Value *init = b.CreateFMul(b.CreateAlignedLoad(wide, at, Align(4)), scaleVector);
        Value *sum = e.reduce(j0, j1, init, [&](Value *j, Value *acc) {
          Value *valueBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
          Value *w = b.CreateVectorSplat(vw, e.loadF32(scores, b.CreateSub(j, j0)));
          return emitFma(b, w, loadWide(vc, b.CreateAdd(valueBase, e.c64(vw * chunk))), acc);
        });
        b.CreateAlignedStore(sum, at, Align(4));
      }
    });
    Value *inverse = b.CreateFDiv(e.cf(1.0f), b.CreateLoad(e.f32(), runningSum));
    Value *result = e.at(e.f32(), k.rowPtr(out, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      e.storeF32(b.CreateFMul(e.loadF32(output, c), inverse), result, c);
    });
  };
  e.forRange(k.begin, k.end, [&](Value *h) {
    e.forRange(e.c64(0), k.rows, [&](Value *t) { head(h, t); });
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

// ggml's SiLU of element c of a row of n: its polynomial exp on groups of
// eight, libm's expf on the remainder of the row.
Value *emitSiluValue(Kernel &k, Value *v, Value *c, int64_t n) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *negated = b.CreateFSub(k.e.cf(0.0f), v);
  Value *exp = n % 8 == 0 ? emitGgmlExp(b, negated) : k.e.callMath("expf", negated);
  if (n % 8 != 0 && n >= 8) {
    Value *inGroups = b.CreateICmpSLT(c, k.e.c64(n / 8 * 8));
    exp = b.CreateSelect(inGroups, emitGgmlExp(b, negated), exp);
  }
  return b.CreateFDiv(v, b.CreateFAdd(k.e.cf(1.0f), exp));
}

// ggml's GELU (tanh form) reads a table indexed by x rounded to f16 and
// holding f16 results: gelu(f16(x)) rounded to f16, for -10 < x < 10; 0
// below, x above.
Value *emitGeluValue(Kernel &k, Value *v) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  auto roundHalf = [&](Value *f) {
    return b.CreateFPExt(b.CreateFPTrunc(f, b.getHalfTy()), k.e.f32());
  };
  Value *h = roundHalf(v);
  Value *square = emitFma(b, b.CreateFMul(k.e.cf(0.044715f), h), h, k.e.cf(1.0f));
  Value *inner = b.CreateFMul(b.CreateFMul(k.e.cf(0.7978845608028654f), h), square);
  Value *th = k.e.callMath("tanhf", inner);
  Value *gelu = roundHalf(b.CreateFMul(b.CreateFMul(k.e.cf(0.5f), h),
                                       b.CreateFAdd(k.e.cf(1.0f), th)));
  return b.CreateSelect(b.CreateFCmpOLE(v, k.e.cf(-10.0f)), k.e.cf(0.0f),
                        b.CreateSelect(b.CreateFCmpOGE(v, k.e.cf(10.0f)), v, gelu));
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
      Value *v = k.e.loadF32(in, c);
      Value *y = k.d.kind == KernelKind::Silu ? emitSiluValue(k, v, c, n)
                                              : emitGeluValue(k, v);
      k.e.storeF32(y, res, c);
    });
  });
}

// The scale of one q8 block of `block` floats at in[base...], as llama.cpp
// quantizes activations. q8_0 (x86 SIMD path): d = amax / 127, stored as
// f16, q = round-half-even(x * 127 / amax). q8_K: the value of largest
// magnitude (the first, sign kept) maps to -127, q = min(127,
// round-half-even(x * -127 / max)), d = 1 / that multiplier, in f32.
struct Q8Scale {
  Value *multiplier; // q = round(x * multiplier)
  Value *step;       // value = q * step (the stored d)
  Value *unrounded;  // q8_0: d before f16 rounding; q8_K: null
};

Q8Scale emitQ8BlockScale(Kernel &k, Value *in, Value *base, int64_t block, bool kBlocks) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  auto at = [&](Value *j) { return b.CreateAdd(base, j); };
  if (!kBlocks) {
    Value *amax = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
      return b.CreateMaxNum(m, b.CreateUnaryIntrinsic(Intrinsic::fabs, e.loadF32(in, at(j))));
    });
    Value *d = b.CreateFDiv(amax, e.cf(127.0f));
    Value *nonzero = b.CreateFCmpONE(amax, e.cf(0.0f));
    return {b.CreateSelect(nonzero, b.CreateFDiv(e.cf(127.0f), amax), e.cf(0.0f)),
            b.CreateFPExt(b.CreateFPTrunc(d, b.getHalfTy()), e.f32()), d};
  }
  Value *extreme = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
    Value *v = e.loadF32(in, at(j));
    Value *larger = b.CreateFCmpOGT(b.CreateUnaryIntrinsic(Intrinsic::fabs, v),
                                    b.CreateUnaryIntrinsic(Intrinsic::fabs, m));
    return b.CreateSelect(larger, v, m);
  });
  Value *nonzero = b.CreateFCmpONE(extreme, e.cf(0.0f));
  Value *inverse = b.CreateFDiv(e.cf(-127.0f), extreme);
  return {b.CreateSelect(nonzero, inverse, e.cf(0.0f)),
          b.CreateSelect(nonzero, b.CreateFDiv(e.cf(1.0f), inverse), e.cf(0.0f)), nullptr};
}

// Each row as llama.cpp's dot products see it, in f32: rounded to f16 or
// bf16, or quantized to q8 blocks (emitQ8BlockScale) and dequantized again.
void roundRow(Kernel &k, Value *in, Value *res, int64_t n, GgmlType format) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  auto roundEven = [&](Value *v) {
    return b.CreateUnaryIntrinsic(Intrinsic::roundeven, v);
  };
  if (format == GgmlType::F16) {
    e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFPExt(b.CreateFPTrunc(e.loadF32(in, c), b.getHalfTy()), e.f32());
      e.storeF32(v, res, c);
    });
    return;
  }
  if (format == GgmlType::BF16) {
    // ggml's f32 -> bf16 in integers (an LLVM fptrunc to bfloat would call
    // a compiler-rt routine the JIT does not have): round to nearest
    // even on the upper 16 bits; NaNs stay NaN, made quiet.
    e.forRange(0, n, [&](Value *c) {
      Value *bits = b.CreateBitCast(e.loadF32(in, c), e.i32());
      Value *isNan = b.CreateICmpUGT(b.CreateAnd(bits, e.c32(0x7fffffff)),
                                     e.c32(0x7f800000));
      Value *lsb = b.CreateAnd(b.CreateLShr(bits, e.c32(16)), e.c32(1));
      Value *rounded = b.CreateAdd(bits, b.CreateAdd(e.c32(0x7fff), lsb));
      Value *upper = b.CreateSelect(isNan, b.CreateOr(bits, e.c32(0x400000)), rounded);
      Value *truncated = b.CreateAnd(upper, e.c32(int32_t(0xffff0000u)));
      e.storeF32(b.CreateBitCast(truncated, e.f32()), res, c);
    });
    return;
  }
  bool kBlocks = format == GgmlType::Q8_K;
  int64_t block = kBlocks ? 256 : 32;
  e.forRange(0, n / block, [&](Value *blockIndex) {
    Value *base = b.CreateMul(blockIndex, e.c64(block));
    auto at = [&](Value *j) { return b.CreateAdd(base, j); };
    Q8Scale q8 = emitQ8BlockScale(k, in, base, block, kBlocks);
    Value *scale = q8.multiplier, *step = q8.step;
    e.forRange(0, block, [&](Value *j) {
      Value *q = roundEven(b.CreateFMul(e.loadF32(in, at(j)), scale));
      if (kBlocks)
        q = b.CreateMinNum(q, e.cf(127.0f));
      e.storeF32(b.CreateFMul(q, step), res, at(j));
    });
  });
}

void emitRoundActivations(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    roundRow(k, k.rowPtr(x, t, n), k.rowPtr(out, t, n), n, k.d.format);
  });
}

// Each row quantized to q8 blocks for integer dot products, as llama.cpp
// quantizes it (emitQ8BlockScale), in the layout of
// QuantizedActivations.h: bytes, scales, then q8_1's s = f16(d * sum q) per
// 32 (d before f16 rounding) or q8_K's sums per 16.
// `row` receives the quantized row (layout of QuantizedActivations.h).
void quantizeRow(Kernel &k, Value *in, Value *row, int64_t n, GgmlType format) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  bool kBlocks = format == GgmlType::Q8_K;
  QuantizedRowLayout layout = quantizedRowLayout(format, n);
  int64_t block = layout.block;
  Value *scales = e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset));
  Value *extra = e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset));
  e.forRange(0, n / block, [&](Value *blockIndex) {
    Value *base = b.CreateMul(blockIndex, e.c64(block));
    auto at = [&](Value *j) { return b.CreateAdd(base, j); };
    Q8Scale q8 = emitQ8BlockScale(k, in, base, block, kBlocks);
    Value *scale = q8.multiplier, *stored = q8.step, *unrounded = q8.unrounded;
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
}

void emitQuantizeActivations(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  int64_t rowBytes = quantizedRowLayout(k.d.format, n).rowBytes;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *row = k.e.at(b.getInt8Ty(), out, b.CreateMul(t, k.e.c64(rowBytes)));
    quantizeRow(k, k.rowPtr(x, t, n), row, n, k.d.format);
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

// A matmul kernel: each weight (part) in turn over this task's output
// columns, then its epilogue. Tasks number the tiles of all parts one
// after the other; SwiGLU's two parts share their tiles, the gate's
// products waiting in the output row for the up products of their column.
void emitMatmulKernel(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  const KernelDesc &d = k.d;
  int64_t K = d.cols, tile = KernelDesc::kMatmulTile;
  bool swiglu = d.epilogue == MatmulEpilogue::SwiGlu;
  int index = 1;
  std::vector<Value *> weights, biases, outs;
  for (const MatmulPart &part : d.parts) {
    weights.push_back(k.arg(index++));
    biases.push_back(part.hasBias ? k.arg(index++) : nullptr);
  }
  Value *residual = d.residual ? k.arg(index++) : nullptr;
  for (size_t r = 0; r < (swiglu ? 1 : d.parts.size()); ++r)
    outs.push_back(k.arg(index++));
  bool plain = d.parts.size() == 1 && d.epilogue == MatmulEpilogue::None && !residual &&
               !d.parts[0].rope;

  auto emitSlice = [&](const MatmulSlice &slice) {
    if (d.activations != GgmlType::F32)
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
    if (d.epilogue == MatmulEpilogue::Gelu)
      value = emitGeluValue(k, value);
    if (residual)
      value = b.CreateFAdd(e.loadF32(residual, element(t, n, N)), value);
    e.storeF32(value, out, element(t, n, N));
  };

  if (swiglu) {
    int64_t N = d.parts[0].rows;
    MatmulSlice gate;
    gate.x = k.arg(0);
    gate.w = weights[0];
    gate.bias = biases[0];
    gate.format = d.parts[0].format;
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
    up.format = d.parts[1].format;
    up.store = [&](Value *sum, Value *t, Value *n) {
      Value *g = e.loadF32(outs[0], element(t, n, N));
      Value *value = b.CreateFMul(emitSiluValue(k, g, n, N), withBias(sum, biases[1], n));
      finish(value, t, n, N, outs[0]);
    };
    emitSlice(up);
    return;
  }

  int64_t taskBase = 0;
  for (size_t p = 0; p < d.parts.size(); ++p) {
    const MatmulPart &part = d.parts[p];
    int64_t N = part.rows, tiles = (N + tile - 1) / tile;
    Value *lo = clamp(b.CreateSub(k.begin, e.c64(taskBase)), e.c64(0), e.c64(tiles));
    Value *hi = clamp(b.CreateSub(k.end, e.c64(taskBase)), lo, e.c64(tiles));
    taskBase += tiles;
    MatmulSlice slice;
    slice.x = k.arg(0);
    slice.w = weights[p];
    slice.bias = biases[p];
    slice.format = part.format;
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
    int64_t hd = d.headDim;
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

} // namespace

Status emitKernel(Module &module, const KernelDesc &desc,
                  const std::string &symbol, const EmitTarget &target) {
  std::vector<GgmlType> formats = {desc.format};
  for (const MatmulPart &part : desc.parts)
    formats.push_back(part.format);
  for (GgmlType format : formats) {
    if ((desc.kind == KernelKind::Matmul || desc.kind == KernelKind::Embedding) &&
        !canDecode(format))
      return makeError("no CPU kernel reads ", std::string(ggmlTypeInfo(format).name),
                       " weights");
    if (desc.kind == KernelKind::Matmul && desc.activations != GgmlType::F32 &&
        !hasIntegerDot(format))
      return makeError("no integer dot product for ",
                       std::string(ggmlTypeInfo(format).name), " weights");
  }
  if (desc.kind == KernelKind::FlashAttention && desc.headDim % 8 != 0)
    return makeError("flash attention needs a head size that is a multiple of 8, not ",
                     std::to_string(desc.headDim));
  Kernel k(module, desc, symbol, target);
  switch (desc.kind) {
  case KernelKind::Embedding: emitEmbedding(k); break;
  case KernelKind::Positions: emitPositions(k); break;
  case KernelKind::RmsNorm: emitRmsNorm(k); break;
  case KernelKind::LayerNorm: emitLayerNorm(k); break;
  case KernelKind::Matmul: emitMatmulKernel(k); break;
  case KernelKind::Rope: emitRope(k); break;
  case KernelKind::KvStore: emitKvStore(k); break;
  case KernelKind::Attention: emitAttention(k); break;
  case KernelKind::FlashAttention: emitFlashAttention(k); break;
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
