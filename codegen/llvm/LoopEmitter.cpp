#include "codegen/llvm/LoopEmitter.h"

using namespace llvm;

namespace kiln::codegen::lowering {

void LoopEmitter::forRange(Value *lo, Value *hi,
                           const std::function<void(Value *)> &body) {
  reduce(lo, hi, nullptr, [&](Value *i, Value *) {
    body(i);
    return nullptr;
  });
}

void LoopEmitter::forRangeRolled(int64_t lo, int64_t hi,
                                 const std::function<void(Value *)> &body) {
  reduce(
      c64(lo), c64(hi), nullptr,
      [&](Value *i, Value *) {
        body(i);
        return nullptr;
      },
      /*rolled=*/true);
}

Value *LoopEmitter::reduce(Value *lo, Value *hi, Value *init,
                           const std::function<Value *(Value *, Value *)> &step,
                           bool rolled) {
  Function *function = b.GetInsertBlock()->getParent();
  LLVMContext &ctx = b.getContext();
  BasicBlock *preheader = b.GetInsertBlock();
  BasicBlock *header = BasicBlock::Create(ctx, "loop", function);
  BasicBlock *body = BasicBlock::Create(ctx, "body", function);
  BasicBlock *exit = BasicBlock::Create(ctx, "exit", function);
  b.CreateBr(header);

  b.SetInsertPoint(header);
  PHINode *index = b.CreatePHI(i64(), 2, "i");
  index->addIncoming(lo, preheader);
  PHINode *acc = nullptr;
  if (init) {
    acc = b.CreatePHI(init->getType(), 2, "acc");
    acc->addIncoming(init, preheader);
  }
  b.CreateCondBr(b.CreateICmpSLT(index, hi), body, exit);

  b.SetInsertPoint(body);
  Value *next = step(index, acc);
  Value *nextIndex = b.CreateAdd(index, c64(1), "", true, true);
  BasicBlock *latch = b.GetInsertBlock();
  index->addIncoming(nextIndex, latch);
  if (acc)
    acc->addIncoming(next, latch);
  BranchInst *back = b.CreateBr(header);
  if (rolled) {
    MDNode *disable =
        MDNode::get(ctx, {MDString::get(ctx, "llvm.loop.unroll.disable")});
    MDNode *loop = MDNode::getDistinct(ctx, {nullptr, disable});
    loop->replaceOperandWith(0, loop);
    back->setMetadata(LLVMContext::MD_loop, loop);
  }

  b.SetInsertPoint(exit);
  return acc;
}

Value *LoopEmitter::scratch(int64_t count) {
  Function *function = b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&function->getEntryBlock(),
                    function->getEntryBlock().begin());
  auto *type = ArrayType::get(f32(), count);
  AllocaInst *alloca = entry.CreateAlloca(type);
  alloca->setAlignment(Align(64));
  return alloca;
}

Value *LoopEmitter::local(Type *type) {
  Function *function = b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&function->getEntryBlock(),
                    function->getEntryBlock().begin());
  return entry.CreateAlloca(type);
}

void LoopEmitter::ifElse(Value *condition, const std::function<void()> &onTrue,
                         const std::function<void()> &onFalse) {
  Function *function = b.GetInsertBlock()->getParent();
  LLVMContext &ctx = b.getContext();
  BasicBlock *thenBlock = BasicBlock::Create(ctx, "then", function);
  BasicBlock *elseBlock = BasicBlock::Create(ctx, "else", function);
  BasicBlock *join = BasicBlock::Create(ctx, "join", function);
  b.CreateCondBr(condition, thenBlock, elseBlock);
  b.SetInsertPoint(thenBlock);
  onTrue();
  b.CreateBr(join);
  b.SetInsertPoint(elseBlock);
  onFalse();
  b.CreateBr(join);
  b.SetInsertPoint(join);
}

Value *LoopEmitter::callMath(const char *name, Value *x) {
  Module *module = b.GetInsertBlock()->getModule();
  FunctionCallee callee =
      module->getOrInsertFunction(name, FunctionType::get(f32(), {f32()}, false));
  if (auto *fn = dyn_cast<Function>(callee.getCallee())) {
    fn->setDoesNotAccessMemory();
    fn->setDoesNotThrow();
  }
  return b.CreateCall(callee, {x});
}

} // namespace kiln::codegen::lowering
