#include "PlanBuilder.h"

#include "KilnDialect.h"
#include "ModelBuilder.h"
#include "QuantizedActivations.h"
#include "passes/FusedMatmulParts.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <map>
#include <optional>

using namespace mlir;

namespace kiln::codegen {

namespace {

using namespace kiln::ir;
using runtime::ActivationBuffer;
using runtime::Slot;
using runtime::SlotKind;
using runtime::Step;

int64_t colsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }
bool isSingleRow(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(0) == 1;
}

class PlanLowering {
public:
  PlanLowering(LoweredModel &out, const Target &target, const LowerOptions &options)
      : out_(out), target_(target), options_(options) {}

  Status lowerFunction(func::FuncOp func, runtime::EntryPoint &entry);

private:
  uint32_t kernelFor(const KernelDesc &desc);
  // The plan's weight `name` in `layout`, listed once per pair.
  uint32_t weightFor(const std::string &name,
                     runtime::WeightLayout layout = runtime::WeightLayout::Gguf);
  uint32_t allocate(const ActivationBuffer &shape);
  Slot slotOf(Value value);
  // A buffer for `result`'s shape; remembered as the value's slot unless
  // it is a temporary.
  Slot outputFor(Value result, bool remember = true);
  Status lowerOp(Operation *op, std::vector<Step> &steps);
  // A call of the kernel of `desc`.
  void emitStep(const KernelDesc &desc, std::vector<Slot> args, bool singleRow,
                std::vector<Step> &steps);
  // kiln.matmul and kiln.fused_matmul alike.
  Status lowerMatmul(Operation *op, std::vector<Step> &steps);

  LoweredModel &out_;
  const Target &target_;
  const LowerOptions &options_;
  std::map<std::string, uint32_t> kernelIndex_;
  std::map<std::pair<std::string, runtime::WeightLayout>, uint32_t> weightIndex_;
  llvm::DenseMap<Value, Slot> slots_;
  // Rounded or quantized copies of a value made for matmuls: q, k and v
  // (gate and up) share one.
  struct Converted {
    KernelKind kind;
    GgmlType format;
    Value normWeight; // set: the copy is the normalized input (fused norm)
    Slot slot;
  };
  llvm::DenseMap<Value, llvm::SmallVector<Converted, 1>> converted_;
};

uint32_t PlanLowering::kernelFor(const KernelDesc &desc) {
  std::string key = desc.key();
  auto found = kernelIndex_.find(key);
  if (found != kernelIndex_.end())
    return found->second;
  uint32_t index = out_.kernels.size();
  out_.kernels.push_back(desc);
  out_.plan.kernelSymbols.push_back("kiln_" + std::to_string(index) + "_" +
                                    kernelLabel(desc));
  kernelIndex_.emplace(key, index);
  return index;
}

uint32_t PlanLowering::weightFor(const std::string &name, runtime::WeightLayout layout) {
  auto [it, added] =
      weightIndex_.emplace(std::make_pair(name, layout), out_.plan.weightNames.size());
  if (added) {
    out_.plan.weightNames.push_back(name);
    out_.plan.weightLayouts.push_back(layout);
  }
  return it->second;
}

// Every value gets a buffer of its own: the runtime's memory planner
// (runtime/MemoryPlanner.h) decides which share memory, from their
// lifetimes over both entry points and any shape.
uint32_t PlanLowering::allocate(const ActivationBuffer &shape) {
  auto &buffers = out_.plan.buffers;
  buffers.push_back(shape);
  return buffers.size() - 1;
}

Slot PlanLowering::slotOf(Value value) { return slots_.lookup(value); }

Slot PlanLowering::outputFor(Value result, bool remember) {
  auto type = cast<RankedTensorType>(result.getType());
  ActivationBuffer shape;
  shape.cols = type.getRank() == 2 ? type.getDimSize(1) : 1;
  shape.elementBytes = 4; // f32 activations and i32 ids alike
  shape.singleRow = type.getDimSize(0) == 1;
  Slot slot{SlotKind::Activation, allocate(shape)};
  if (remember)
    slots_[result] = slot;
  return slot;
}

Status PlanLowering::lowerOp(Operation *op, std::vector<Step> &steps) {
  auto emit = [&](const KernelDesc &desc, std::vector<Slot> args, bool singleRow) {
    emitStep(desc, std::move(args), singleRow, steps);
  };

  return llvm::TypeSwitch<Operation *, Status>(op)
      .Case([&](WeightOp w) {
        slots_[w.getResult()] = Slot{SlotKind::Weight, weightFor(w.getName().str())};
        return Status::success();
      })
      .Case([&](EmbeddingOp e) {
        KernelDesc d;
        d.kind = KernelKind::Embedding;
        d.outCols = colsOf(e.getResult());
        d.format = static_cast<GgmlType>(e.getTable().getType().getFormat());
        Slot table = slotOf(e.getTable()), ids = slotOf(e.getIds());
        emit(d, {table, ids, outputFor(e.getResult())}, isSingleRow(e.getResult()));
        return Status::success();
      })
      .Case([&](PositionsOp p) {
        KernelDesc d;
        d.kind = KernelKind::Positions;
        emit(d, {outputFor(p.getResult())}, false);
        return Status::success();
      })
      .Case([&](RmsNormOp n) {
        KernelDesc d;
        d.kind = KernelKind::RmsNorm;
        d.cols = d.outCols = colsOf(n.getInput());
        d.norm.epsilon = n.getEpsilon().convertToFloat();
        Slot x = slotOf(n.getInput()), w = slotOf(n.getWeight());
        emit(d, {x, w, outputFor(n.getResult())}, isSingleRow(n.getInput()));
        return Status::success();
      })
      .Case([&](LayerNormOp n) {
        KernelDesc d;
        d.kind = KernelKind::LayerNorm;
        d.cols = d.outCols = colsOf(n.getInput());
        d.norm.epsilon = n.getEpsilon().convertToFloat();
        Slot x = slotOf(n.getInput()), w = slotOf(n.getWeight()),
             b = slotOf(n.getBias());
        emit(d, {x, w, b, outputFor(n.getResult())}, isSingleRow(n.getInput()));
        return Status::success();
      })
      .Case<MatmulOp, FusedMatmulOp>([&](auto m) { return lowerMatmul(m, steps); })
      .Case([&](RopeOp r) {
        KernelDesc d;
        d.kind = KernelKind::Rope;
        d.cols = d.outCols = colsOf(r.getInput());
        d.rope.headDim = r.getHeadDim();
        d.rope.ropeDims = r.getRopeDims();
        d.rope.neox = r.getMode() == ir::RopeMode::neox;
        d.rope.freqBase = r.getFreqBase().convertToFloat();
        d.rope.freqScale = r.getFreqScale().convertToFloat();
        Slot x = slotOf(r.getInput());
        emit(d, {x, outputFor(r.getResult())}, isSingleRow(r.getInput()));
        return Status::success();
      })
      .Case<AttentionOp, FlashAttentionOp>([&](auto a) {
        bool flash = isa<FlashAttentionOp>(a.getOperation());
        Operation *op = a.getOperation();
        auto module = op->getParentOfType<ModuleOp>();
        auto context = module->template getAttrOfType<IntegerAttr>(ir::kAttrContextLength);
        if (!context)
          return Status(makeError("module has no ", ir::kAttrContextLength));
        uint32_t layer = a.getLayer();
        Slot kCache{SlotKind::KeyCache, layer}, vCache{SlotKind::ValueCache, layer};
        KernelDesc store;
        store.kind = KernelKind::KvStore;
        store.cols = store.outCols = colsOf(a.getKey());
        store.attention.contextLength = context.getInt();
        store.attention.kvHalf = options_.kvCacheF16;
        bool single = isSingleRow(a.getQuery());
        emit(store, {slotOf(a.getKey()), slotOf(a.getValue()), kCache, vCache}, single);
        KernelDesc d;
        d.kind = flash ? KernelKind::FlashAttention : KernelKind::Attention;
        d.cols = d.outCols = colsOf(a.getQuery());
        d.attention.numHeads = a.getNumHeads();
        d.attention.numKvHeads = a.getNumKvHeads();
        d.attention.headDim = a.getHeadDim();
        d.attention.scale = a.getScale().convertToFloat();
        d.attention.contextLength = context.getInt();
        d.attention.kvHalf = options_.kvCacheF16;
        Slot q = slotOf(a.getQuery());
        emit(d, {q, kCache, vCache, outputFor(a.getResult())}, single);
        return Status::success();
      })
      .Case([&](AddOp o) {
        KernelDesc d;
        d.kind = KernelKind::Add;
        d.cols = d.outCols = colsOf(o.getResult());
        Slot a = slotOf(o.getLhs()), b = slotOf(o.getRhs());
        emit(d, {a, b, outputFor(o.getResult())}, isSingleRow(o.getResult()));
        return Status::success();
      })
      .Case([&](MulOp o) {
        KernelDesc d;
        d.kind = KernelKind::Mul;
        d.cols = d.outCols = colsOf(o.getResult());
        Slot a = slotOf(o.getLhs()), b = slotOf(o.getRhs());
        emit(d, {a, b, outputFor(o.getResult())}, isSingleRow(o.getResult()));
        return Status::success();
      })
      .Case([&](SiluOp o) {
        KernelDesc d;
        d.kind = KernelKind::Silu;
        d.cols = d.outCols = colsOf(o.getResult());
        Slot x = slotOf(o.getInput());
        emit(d, {x, outputFor(o.getResult())}, isSingleRow(o.getResult()));
        return Status::success();
      })
      .Case([&](GeluOp o) {
        KernelDesc d;
        d.kind = KernelKind::Gelu;
        d.cols = d.outCols = colsOf(o.getResult());
        Slot x = slotOf(o.getInput());
        emit(d, {x, outputFor(o.getResult())}, isSingleRow(o.getResult()));
        return Status::success();
      })
      .Case([&](SoftmaxOp o) {
        KernelDesc d;
        d.kind = KernelKind::Softmax;
        d.cols = d.outCols = colsOf(o.getResult());
        Slot x = slotOf(o.getInput());
        emit(d, {x, outputFor(o.getResult())}, isSingleRow(o.getResult()));
        return Status::success();
      })
      .Case([&](SliceColumnsOp s) {
        KernelDesc d;
        d.kind = KernelKind::SliceColumns;
        d.cols = colsOf(s.getInput());
        d.outCols = colsOf(s.getResult());
        d.slice.offset = s.getOffset();
        Slot x = slotOf(s.getInput());
        emit(d, {x, outputFor(s.getResult())}, isSingleRow(s.getResult()));
        return Status::success();
      })
      .Case([&](LastRowOp l) {
        KernelDesc d;
        d.kind = KernelKind::LastRow;
        d.cols = d.outCols = colsOf(l.getInput());
        Slot x = slotOf(l.getInput());
        emit(d, {x, outputFor(l.getResult())}, false);
        return Status::success();
      })
      .Default([&](Operation *other) {
        return Status(makeError("cannot lower '",
                                other->getName().getStringRef().str(),
                                "' to a kernel"));
      });
}

void PlanLowering::emitStep(const KernelDesc &desc, std::vector<Slot> args,
                            bool singleRow, std::vector<Step> &steps) {
  Step step;
  step.kernel = kernelFor(desc);
  step.args = std::move(args);
  step.singleRow = singleRow;
  step.label = kernelLabel(desc);
  steps.push_back(std::move(step));
}

Status PlanLowering::lowerMatmul(Operation *op, std::vector<Step> &steps) {
  passes::FusedMatmulParts m = *passes::FusedMatmulParts::of(op);
  KernelDesc d;
  d.kind = KernelKind::Matmul;
  d.cols = colsOf(m.input);
  for (auto [i, w] : llvm::enumerate(m.weights)) {
    auto type = cast<WeightType>(w.getType());
    MatmulPart part;
    part.format = static_cast<GgmlType>(type.getFormat());
    part.rows = type.getRows();
    part.hasBias = !m.biases.empty();
    part.rope = !m.ropeResults.empty() && m.ropeResults[i];
    d.matmul.parts.push_back(part);
  }
  d.format = d.matmul.parts[0].format;
  d.outCols = d.matmul.parts[0].rows;
  d.matmul.hasBias = d.matmul.parts[0].hasBias;
  switch (m.epilogue) {
  case ir::MatmulEpilogue::none: break;
  case ir::MatmulEpilogue::swiglu: d.matmul.epilogue = MatmulEpilogue::SwiGlu; break;
  case ir::MatmulEpilogue::gelu: d.matmul.epilogue = MatmulEpilogue::Gelu; break;
  }
  d.matmul.residual = static_cast<bool>(m.residual);
  d.rope.headDim = m.ropeHeadDim;
  d.rope.ropeDims = m.ropeDims;
  d.rope.freqBase = m.ropeFreqBase;
  d.rope.freqScale = m.ropeFreqScale;
  bool single = isSingleRow(m.input);

  // The input as the dot products read it: quantized to q8 blocks, rounded
  // as llama.cpp rounds it, or as it is; made once per (value, form) and
  // shared by the matmuls that read it. A fused norm writes it directly.
  const MatmulInputForm form = target_.matmulInput(d.format, options_);
  const std::optional<GgmlType> quantized = form.quantized, rounding = form.rounding;
  KernelKind convertKind = KernelKind::RoundActivations;
  RowConversion conversion = RowConversion::None;
  GgmlType convertFormat = GgmlType::F32;
  int64_t bufferCols = d.cols;
  if (options_.weightLayouts)
    for (MatmulPart &part : d.matmul.parts)
      part.layout = target_.matmulWeightLayout(part.format, part.rows, d.cols, form);
  if (quantized) {
    d.matmul.activations = *quantized;
    convertKind = KernelKind::QuantizeActivations;
    conversion = RowConversion::Quantize;
    convertFormat = *quantized;
    bufferCols = quantizedRowLayout(*quantized, d.cols).rowBytes / 4;
  } else if (rounding) {
    conversion = RowConversion::Round;
    convertFormat = *rounding;
  }
  Slot input = slotOf(m.input);
  if (conversion != RowConversion::None || m.normWeight) {
    auto &copies = converted_[m.input];
    auto found = llvm::find_if(copies, [&](const Converted &c) {
      return c.kind == convertKind && c.format == convertFormat &&
             c.normWeight == m.normWeight;
    });
    if (found != copies.end()) {
      input = found->slot;
    } else {
      KernelDesc convert;
      std::vector<Slot> args = {input};
      if (m.normWeight) {
        convert.kind = m.normBias ? KernelKind::LayerNorm : KernelKind::RmsNorm;
        convert.norm.epsilon = *m.normEpsilon;
        convert.norm.convert = conversion;
        args.push_back(slotOf(m.normWeight));
        if (m.normBias)
          args.push_back(slotOf(m.normBias));
      } else {
        convert.kind = convertKind;
      }
      convert.format = convertFormat;
      convert.cols = convert.outCols = d.cols;
      ActivationBuffer shape;
      shape.cols = bufferCols;
      shape.singleRow = single;
      shape.holdsFloats = false; // q8 blocks or f16 halves in 4-byte units
      Slot copy{SlotKind::Activation, allocate(shape)};
      args.push_back(copy);
      emitStep(convert, std::move(args), single, steps);
      copies.push_back({convertKind, convertFormat, m.normWeight, copy});
      input = copy;
    }
  }

  std::vector<Slot> args = {input};
  for (auto [i, w] : llvm::enumerate(m.weights)) {
    const runtime::WeightLayout layout = d.matmul.parts[i].layout;
    if (layout == runtime::WeightLayout::Gguf) {
      args.push_back(slotOf(w));
    } else {
      auto weight = w.getDefiningOp<WeightOp>();
      if (!weight)
        return makeError("a matmul weight in layout ",
                         std::string(runtime::weightLayoutName(layout)),
                         " is not a kiln.weight");
      args.push_back(Slot{SlotKind::Weight, weightFor(weight.getName().str(), layout)});
    }
    if (!m.biases.empty())
      args.push_back(slotOf(m.biases[i]));
  }
  if (m.residual)
    args.push_back(slotOf(m.residual));
  for (Value result : op->getResults())
    args.push_back(outputFor(result));
  emitStep(d, std::move(args), single, steps);
  return Status::success();
}

Status PlanLowering::lowerFunction(func::FuncOp func,
                                   runtime::EntryPoint &entry) {
  slots_.clear();
  converted_.clear();
  Block &body = func.getBody().front();
  slots_[body.getArgument(0)] = Slot{SlotKind::Tokens, 0};

  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      Slot result = slotOf(ret.getOperand(0));
      if (result.kind != SlotKind::Activation)
        return makeError("@", func.getName().str(),
                         " must return an activation");
      entry.logits = result.index;
      entry.allRows = !isSingleRow(ret.getOperand(0));
      continue;
    }
    KILN_TRY(lowerOp(&op, entry.steps));
  }
  return Status::success();
}

// Every kiln.weight gets its file-layout entry when it is defined; a
// weight whose only readers take it in another layout leaves that entry
// unread. Drops those, keeping the order of the rest.
void dropUnreadWeights(runtime::ExecutionPlan &plan) {
  std::vector<bool> read(plan.weightNames.size(), false);
  for (const runtime::EntryPoint *entry : {&plan.prefill, &plan.decode})
    for (const Step &step : entry->steps)
      for (const Slot &slot : step.args)
        if (slot.kind == SlotKind::Weight)
          read[slot.index] = true;
  std::vector<uint32_t> renumbered(read.size());
  std::vector<std::string> names;
  std::vector<runtime::WeightLayout> layouts;
  for (size_t i = 0; i < read.size(); ++i) {
    renumbered[i] = uint32_t(names.size());
    if (read[i]) {
      names.push_back(plan.weightNames[i]);
      layouts.push_back(plan.weightLayouts[i]);
    }
  }
  if (names.size() == read.size())
    return;
  for (runtime::EntryPoint *entry : {&plan.prefill, &plan.decode})
    for (Step &step : entry->steps)
      for (Slot &slot : step.args)
        if (slot.kind == SlotKind::Weight)
          slot.index = renumbered[slot.index];
  plan.weightNames = std::move(names);
  plan.weightLayouts = std::move(layouts);
}

} // namespace

Result<LoweredModel> lowerToPlan(ModuleOp module, const Target &target,
                                 const LowerOptions &options) {
  LoweredModel out;
  out.plan.kvElementBytes = options.kvCacheF16 ? 2 : 4;
  auto intAttr = [&](const char *name) -> int64_t {
    auto attr = module->getAttrOfType<IntegerAttr>(name);
    return attr ? attr.getInt() : 0;
  };
  out.plan.numLayers = intAttr(ir::kAttrNumLayers);
  out.plan.kvWidth = intAttr(ir::kAttrKvWidth);
  out.plan.contextLength = intAttr(ir::kAttrContextLength);
  out.plan.vocabSize = intAttr(ir::kAttrVocabSize);
  if (out.plan.contextLength <= 0 || out.plan.vocabSize <= 0)
    return makeError("module lacks the kiln.* size attributes");

  PlanLowering lowering(out, target, options);
  for (auto [name, entry] : {std::pair{"prefill", &out.plan.prefill},
                             std::pair{"decode", &out.plan.decode}}) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func)
      return makeError("module has no @", name, " function");
    KILN_TRY(lowering.lowerFunction(func, *entry));
  }
  dropUnreadWeights(out.plan);
  return out;
}

} // namespace kiln::codegen
