#include "ModelBuilder.h"

#include "KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <cmath>
#include <map>

using namespace mlir;

namespace kiln::ir {

void loadKilnDialects(MLIRContext &context) {
  context.loadDialect<KilnDialect, func::FuncDialect>();
}

namespace {

// Emits one entry point's body. Weight ops are created once per function,
// where first used.
class GraphEmitter {
public:
  GraphEmitter(OpBuilder &builder, const ModelSpec &spec, Location loc)
      : b_(builder), spec_(spec), loc_(loc) {}

  // Returns the logits; `rows` is the static token count or dynamic.
  Value emit(Value tokens, Value position, int64_t rows, bool allLogits);

private:
  RankedTensorType activation(int64_t rows, int64_t cols) {
    return RankedTensorType::get({rows, cols}, b_.getF32Type());
  }
  Value weight(const WeightRef &ref);
  Value optionalWeight(const std::optional<WeightRef> &ref) {
    return ref ? weight(*ref) : Value();
  }
  Value matmul(Value input, const WeightRef &w,
               const std::optional<WeightRef> &bias = std::nullopt);
  Value norm(Value x, const WeightRef &w,
             const std::optional<WeightRef> &bias);
  Value rope(Value x, Value position);
  Value attention(Value q, Value k, Value v, Value position, int64_t layer);
  Value llamaBlock(Value x, Value position, int64_t layer);
  Value gpt2Block(Value x, Value position, int64_t layer);

  OpBuilder &b_;
  const ModelSpec &spec_;
  Location loc_;
  int64_t rows_ = ShapedType::kDynamic;
  std::map<std::string, Value> weights_;
};

Value GraphEmitter::weight(const WeightRef &ref) {
  auto found = weights_.find(ref.name);
  if (found != weights_.end())
    return found->second;
  SmallVector<int64_t> shape;
  if (ref.dims.size() == 2)
    shape = {ref.dims[1], ref.dims[0]}; // rows first
  else
    shape = {ref.dims[0]};
  // The ModelSpec was checked against the supported formats.
  auto format = symbolizeWeightFormat(static_cast<uint32_t>(ref.type));
  auto type = WeightType::get(b_.getContext(), shape, *format);
  auto op = b_.create<WeightOp>(loc_, type, ref.name);
  // A per-layer precision choice is recorded on the weight: its type is
  // the chosen one; the source type and predicted cost say why.
  if (auto choice = spec_.precision.find(ref.name); choice != spec_.precision.end()) {
    op->setAttr("kiln.requantized_from", b_.getStringAttr(choice->second.sourceType));
    op->setAttr("kiln.sensitivity", b_.getF64FloatAttr(choice->second.cost));
  }
  Value value = op;
  weights_.emplace(ref.name, value);
  return value;
}

Value GraphEmitter::matmul(Value input, const WeightRef &w,
                           const std::optional<WeightRef> &bias) {
  Value weightValue = weight(w);
  return b_.create<MatmulOp>(loc_, activation(rows_, w.rows()), input,
                             weightValue, optionalWeight(bias));
}

Value GraphEmitter::norm(Value x, const WeightRef &w,
                         const std::optional<WeightRef> &bias) {
  FloatAttr eps = b_.getF32FloatAttr(spec_.normEpsilon);
  if (bias)
    return b_.create<LayerNormOp>(loc_, x.getType(), x, weight(w),
                                  weight(*bias), eps);
  return b_.create<RmsNormOp>(loc_, x.getType(), x, weight(w), eps);
}

Value GraphEmitter::rope(Value x, Value position) {
  RopeMode mode =
      spec_.ropeMode == kiln::RopeMode::Neox ? RopeMode::neox : RopeMode::normal;
  return b_.create<RopeOp>(
      loc_, x.getType(), x, position, b_.getI64IntegerAttr(spec_.headDim),
      b_.getI64IntegerAttr(spec_.ropeDims),
      RopeModeAttr::get(b_.getContext(), mode),
      b_.getF32FloatAttr(spec_.ropeFreqBase),
      b_.getF32FloatAttr(spec_.ropeFreqScale));
}

Value GraphEmitter::attention(Value q, Value k, Value v, Value position,
                              int64_t layer) {
  float scale = 1.0f / std::sqrt(static_cast<float>(spec_.headDim));
  return b_.create<AttentionOp>(
      loc_, q.getType(), q, k, v, position, b_.getI64IntegerAttr(layer),
      b_.getI64IntegerAttr(spec_.headCount),
      b_.getI64IntegerAttr(spec_.headCountKv),
      b_.getI64IntegerAttr(spec_.headDim), b_.getF32FloatAttr(scale));
}

Value GraphEmitter::llamaBlock(Value x, Value position, int64_t layer) {
  const LayerWeights &w = spec_.layers[layer];
  Value h = norm(x, w.attnNorm, std::nullopt);
  Value q = rope(matmul(h, *w.wq, w.bq), position);
  Value k = rope(matmul(h, *w.wk, w.bk), position);
  Value v = matmul(h, *w.wv, w.bv);
  Value attended = attention(q, k, v, position, layer);
  x = b_.create<AddOp>(loc_, x, matmul(attended, w.wo, w.bo));

  h = norm(x, w.ffnNorm, std::nullopt);
  Value gate = b_.create<SiluOp>(loc_, matmul(h, *w.ffnGate));
  Value up = matmul(h, w.ffnUp);
  Value down = matmul(b_.create<MulOp>(loc_, gate, up), w.ffnDown);
  return b_.create<AddOp>(loc_, x, down);
}

Value GraphEmitter::gpt2Block(Value x, Value position, int64_t layer) {
  const LayerWeights &w = spec_.layers[layer];
  int64_t width = spec_.embeddingLength;
  Value h = norm(x, w.attnNorm, w.attnNormBias);
  Value qkv = matmul(h, *w.wqkv, w.bqkv);
  auto slice = [&](int64_t offset) -> Value {
    return b_.create<SliceColumnsOp>(loc_, activation(rows_, width), qkv,
                                     b_.getI64IntegerAttr(offset));
  };
  Value attended = attention(slice(0), slice(width), slice(2 * width),
                             position, layer);
  x = b_.create<AddOp>(loc_, x, matmul(attended, w.wo, w.bo));

  h = norm(x, w.ffnNorm, w.ffnNormBias);
  Value up = b_.create<GeluOp>(loc_, matmul(h, w.ffnUp, w.ffnUpBias));
  return b_.create<AddOp>(loc_, x, matmul(up, w.ffnDown, w.ffnDownBias));
}

Value GraphEmitter::emit(Value tokens, Value position, int64_t rows,
                         bool allLogits) {
  rows_ = rows;
  auto hidden = activation(rows, spec_.embeddingLength);
  Value x = b_.create<EmbeddingOp>(loc_, hidden, weight(spec_.tokenEmbedding),
                                   tokens);
  if (spec_.positionEmbedding) {
    auto ids = RankedTensorType::get({rows}, b_.getI32Type());
    Value positions = b_.create<PositionsOp>(loc_, ids, position, x);
    Value learned = b_.create<EmbeddingOp>(
        loc_, hidden, weight(*spec_.positionEmbedding), positions);
    x = b_.create<AddOp>(loc_, x, learned);
  }
  for (int64_t layer = 0; layer < int64_t(spec_.blockCount); ++layer)
    x = spec_.family == ModelFamily::Gpt2 ? gpt2Block(x, position, layer)
                                           : llamaBlock(x, position, layer);
  x = norm(x, spec_.outputNorm, spec_.outputNormBias);
  if (!allLogits && rows != 1) {
    x = b_.create<LastRowOp>(loc_, activation(1, spec_.embeddingLength), x);
    rows_ = 1;
  }
  return matmul(x, spec_.output);
}

// Every weight must be in a format the dialect describes.
Status checkFormats(const ModelSpec &spec) {
  std::vector<const WeightRef *> all = {&spec.tokenEmbedding, &spec.outputNorm,
                                        &spec.output};
  auto add = [&](const std::optional<WeightRef> &ref) {
    if (ref)
      all.push_back(&*ref);
  };
  add(spec.positionEmbedding);
  add(spec.outputNormBias);
  for (const LayerWeights &w : spec.layers) {
    for (const WeightRef *ref : {&w.attnNorm, &w.wo, &w.ffnNorm, &w.ffnUp,
                                 &w.ffnDown})
      all.push_back(ref);
    for (const auto *ref :
         {&w.attnNormBias, &w.wq, &w.wk, &w.wv, &w.wqkv, &w.bq, &w.bk, &w.bv,
          &w.bqkv, &w.bo, &w.ffnNormBias, &w.ffnGate, &w.ffnUpBias,
          &w.ffnDownBias})
      add(*ref);
  }
  for (const WeightRef *ref : all)
    if (!symbolizeWeightFormat(static_cast<uint32_t>(ref->type)))
      return makeError("tensor '", ref->name, "' is stored as ",
                       std::string(ggmlTypeInfo(ref->type).name),
                       ", which kiln cannot compile yet");
  return Status::success();
}

} // namespace

Result<OwningOpRef<ModuleOp>> buildModel(MLIRContext &context,
                                         const ModelSpec &spec,
                                         const BuildOptions &options) {
  KILN_TRY(checkFormats(spec));
  loadKilnDialects(context);
  Location loc = FileLineColLoc::get(&context, spec.name, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(module->getBodyRegion());
  (*module)->setAttr(kAttrArchitecture, b.getStringAttr(spec.architecture));
  (*module)->setAttr(kAttrContextLength, b.getI64IntegerAttr(spec.contextLength));
  (*module)->setAttr(kAttrVocabSize, b.getI64IntegerAttr(spec.vocabSize));
  (*module)->setAttr(kAttrNumLayers, b.getI64IntegerAttr(spec.blockCount));
  (*module)->setAttr(kAttrKvWidth, b.getI64IntegerAttr(spec.kvWidth()));

  struct EntryPoint {
    const char *name;
    int64_t rows;
    bool allLogits;
  };
  for (EntryPoint entry : {EntryPoint{"prefill", ShapedType::kDynamic,
                                      options.allLogits},
                           EntryPoint{"decode", 1, false}}) {
    auto idsType = RankedTensorType::get({entry.rows}, b.getI32Type());
    int64_t logitRows = entry.allLogits ? entry.rows : 1;
    auto logitsType = RankedTensorType::get(
        {logitRows, int64_t(spec.vocabSize)}, b.getF32Type());
    auto funcType =
        b.getFunctionType({idsType, b.getIndexType()}, {logitsType});
    auto func = b.create<func::FuncOp>(loc, entry.name, funcType);
    Block *body = func.addEntryBlock();
    OpBuilder inner = OpBuilder::atBlockBegin(body);
    GraphEmitter emitter(inner, spec, loc);
    Value logits = emitter.emit(body->getArgument(0), body->getArgument(1),
                                entry.rows, entry.allLogits);
    inner.create<func::ReturnOp>(loc, logits);
  }
  if (failed(verify(*module)))
    return makeError("internal error: the graph built for '", spec.name,
                     "' does not verify");
  return module;
}

} // namespace kiln::ir
