#include "runtime/MemoryPlanner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace kiln::runtime {
namespace {

Slot act(uint32_t index) { return Slot{SlotKind::Activation, index}; }
Slot weight(uint32_t index) { return Slot{SlotKind::Weight, index}; }
Slot tokens() { return Slot{SlotKind::Tokens, 0}; }

Step step(std::string label, std::vector<Slot> args) {
  Step s;
  s.args = std::move(args);
  s.label = std::move(label);
  return s;
}

ActivationBuffer buffer(int64_t cols, bool singleRow = false) {
  ActivationBuffer b;
  b.cols = cols;
  b.singleRow = singleRow;
  return b;
}

bool addressesOverlap(const BufferPlacement &a, const BufferPlacement &b) {
  return a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

// What every memory plan must satisfy: buffers live at the same time in
// one entry point never share a byte; every buffer is aligned and inside
// the arena; the arena is no larger than the buffers side by side.
void expectSound(const ExecutionPlan &plan, const MemoryPlan &memory) {
  ASSERT_EQ(memory.buffers.size(), plan.buffers.size());
  uint64_t unshared = 0;
  for (size_t i = 0; i < memory.buffers.size(); ++i) {
    const BufferPlacement &a = memory.buffers[i];
    unshared += a.bytes;
    EXPECT_EQ(a.bytes % kArenaAlignment, 0u) << "a" << i;
    EXPECT_EQ(a.offset % kArenaAlignment, 0u) << "a" << i;
    if (a.used())
      EXPECT_LE(a.offset + a.bytes, memory.arenaBytes) << "a" << i;
    for (size_t j = i + 1; j < memory.buffers.size(); ++j) {
      const BufferPlacement &b = memory.buffers[j];
      if (livesOverlap(a, b) && a.bytes && b.bytes)
        EXPECT_FALSE(addressesOverlap(a, b)) << "a" << i << " and a" << j;
    }
  }
  EXPECT_EQ(memory.unsharedBytes, unshared);
  EXPECT_LE(memory.arenaBytes, memory.unsharedBytes);
}

MemoryPlan planned(const ExecutionPlan &plan, int64_t batch = 4) {
  auto memory = planMemory(plan, batch);
  EXPECT_TRUE(memory.ok()) << memory.error().message;
  if (!memory.ok())
    return {};
  expectSound(plan, *memory);
  return std::move(memory).value();
}

TEST(MemoryPlanner, EmptyPlanNeedsNoArena) {
  ExecutionPlan plan;
  MemoryPlan memory = planned(plan);
  EXPECT_TRUE(memory.buffers.empty());
  EXPECT_EQ(memory.arenaBytes, 0u);
  EXPECT_EQ(memory.unsharedBytes, 0u);

  // Buffers no step names take no arena space, though they are counted in
  // the bytes without reuse.
  plan.buffers = {buffer(16), buffer(16)};
  memory = planned(plan);
  EXPECT_FALSE(memory.buffers[0].used());
  EXPECT_EQ(memory.arenaBytes, 0u);
  EXPECT_EQ(memory.unsharedBytes, 2u * 4 * 16 * 4);
}

TEST(MemoryPlanner, DisjointLifetimesShareMemory) {
  // a0 -> a1 -> a2: a0 is dead once a1 is written, so a2 can take its place.
  ExecutionPlan plan;
  plan.buffers = {buffer(64), buffer(64), buffer(64)};
  plan.prefill.steps = {step("embed", {weight(0), tokens(), act(0)}),
                        step("norm", {act(0), weight(1), act(1)}),
                        step("out", {act(1), weight(2), act(2)})};
  plan.prefill.logits = 2;
  MemoryPlan memory = planned(plan);
  ASSERT_TRUE(memory.buffers[0].prefill);
  EXPECT_EQ(memory.buffers[0].prefill->first, 0u);
  EXPECT_EQ(memory.buffers[0].prefill->last, 1u);
  EXPECT_EQ(memory.buffers[1].prefill->first, 1u);
  EXPECT_EQ(memory.buffers[1].prefill->last, 2u);
  EXPECT_EQ(memory.buffers[2].prefill->first, 2u);
  EXPECT_EQ(memory.buffers[2].prefill->last, 3u); // read after the return
  EXPECT_FALSE(memory.buffers[0].decode);
  EXPECT_EQ(memory.buffers[0].offset, memory.buffers[2].offset);
  EXPECT_EQ(memory.unsharedBytes, 3u * 4 * 64 * 4);
  EXPECT_EQ(memory.arenaBytes, 2u * 4 * 64 * 4);
}

TEST(MemoryPlanner, OverlappingLifetimesDoNotShare) {
  // a0 is read again by the last step: all three are live at step 1.
  ExecutionPlan plan;
  plan.buffers = {buffer(64), buffer(64), buffer(64)};
  plan.prefill.steps = {step("embed", {weight(0), tokens(), act(0)}),
                        step("norm", {act(0), weight(1), act(1)}),
                        step("add", {act(0), act(1), act(2)})};
  plan.prefill.logits = 2;
  MemoryPlan memory = planned(plan);
  EXPECT_EQ(memory.arenaBytes, memory.unsharedBytes);
}

TEST(MemoryPlanner, ReadAndWrittenByOneStepNeverAlias) {
  // a0's last use and a1's first use are the same step: the kernel writes
  // a1 while it reads a0, so they must not share memory even though a0 is
  // dead after the step.
  ExecutionPlan plan;
  plan.buffers = {buffer(32), buffer(32)};
  plan.decode.steps = {step("embed", {weight(0), tokens(), act(0)}),
                       step("rope", {act(0), act(1)})};
  plan.decode.logits = 1;
  MemoryPlan memory = planned(plan);
  EXPECT_FALSE(addressesOverlap(memory.buffers[0], memory.buffers[1]));
  EXPECT_EQ(memory.arenaBytes, 2u * 4 * 32 * 4);
}

TEST(MemoryPlanner, SizesAndOffsetsAreAligned) {
  ExecutionPlan plan;
  // 5 rows x 3 f32 = 60 bytes -> 64; one row of 17 f32 = 68 -> 128;
  // 5 x 1 two-byte elements = 10 -> 64.
  ActivationBuffer half = buffer(1);
  half.elementBytes = 2;
  plan.buffers = {buffer(3), buffer(17, /*singleRow=*/true), half};
  plan.prefill.steps = {step("a", {tokens(), act(0)}),
                        step("b", {act(0), act(1)}),
                        step("c", {act(0), act(1), act(2)})};
  plan.prefill.logits = 2;
  MemoryPlan memory = planned(plan, /*batch=*/5);
  EXPECT_EQ(memory.buffers[0].bytes, 64u);
  EXPECT_EQ(memory.buffers[1].bytes, 128u);
  EXPECT_EQ(memory.buffers[2].bytes, 64u);
  EXPECT_EQ(memory.arenaBytes, 256u);
}

TEST(MemoryPlanner, LogitsAreNotReusedAfterTheirLastWrite) {
  // The logits (a0) are written by the first step; the later steps must not
  // put their buffers over them, because the caller reads a0 after the call.
  ExecutionPlan plan;
  plan.buffers = {buffer(64), buffer(64), buffer(64)};
  plan.prefill.steps = {step("logits", {tokens(), act(0)}),
                        step("scratch", {tokens(), act(1)}),
                        step("more", {act(1), act(2)})};
  plan.prefill.logits = 0;
  MemoryPlan memory = planned(plan);
  EXPECT_EQ(memory.buffers[0].prefill->last, 3u);
  EXPECT_FALSE(addressesOverlap(memory.buffers[0], memory.buffers[1]));
  EXPECT_FALSE(addressesOverlap(memory.buffers[0], memory.buffers[2]));
}

TEST(MemoryPlanner, EntryPointsShareTheArena) {
  // Prefill and decode never run at once: a buffer only prefill uses and
  // one only decode uses may share memory, even prefill's logits (the
  // next call overwrites them anyway). a0, used by both, is checked in each.
  ExecutionPlan plan;
  plan.buffers = {buffer(64), buffer(64), buffer(64, true)};
  plan.prefill.steps = {step("embed", {tokens(), act(0)}),
                        step("head", {act(0), act(1)})};
  plan.prefill.logits = 1;
  plan.decode.steps = {step("embed", {tokens(), act(0)}),
                       step("head", {act(0), act(2)})};
  plan.decode.logits = 2;
  MemoryPlan memory = planned(plan);
  ASSERT_TRUE(memory.buffers[0].prefill && memory.buffers[0].decode);
  EXPECT_EQ(memory.buffers[0].decode->last, 1u);
  EXPECT_FALSE(memory.buffers[1].decode);
  EXPECT_FALSE(memory.buffers[2].prefill);
  EXPECT_FALSE(addressesOverlap(memory.buffers[0], memory.buffers[1]));
  EXPECT_FALSE(addressesOverlap(memory.buffers[0], memory.buffers[2]));
  EXPECT_EQ(memory.buffers[1].offset, memory.buffers[2].offset);
  EXPECT_EQ(memory.arenaBytes, 2u * 4 * 64 * 4);
}

TEST(MemoryPlanner, SmallBuffersFillTheGapsOfLargeOnes) {
  // a0 (large) dies at step 1; a1 and a2 (small, live together) are
  // written after that and fit side by side in its place.
  ExecutionPlan plan;
  plan.buffers = {buffer(256), buffer(64), buffer(64), buffer(256)};
  plan.prefill.steps = {step("big", {tokens(), act(0)}),
                        step("keep", {act(0), act(3)}),
                        step("small1", {act(3), act(1)}),
                        step("small2", {act(3), act(2)}),
                        step("join", {act(1), act(2), act(3)})};
  plan.prefill.logits = 3;
  MemoryPlan memory = planned(plan);
  EXPECT_EQ(memory.arenaBytes, 2u * 4 * 256 * 4);
  EXPECT_EQ(memory.buffers[0].offset, 0u);
  EXPECT_LE(memory.buffers[1].offset + memory.buffers[1].bytes, memory.buffers[0].bytes);
  EXPECT_LE(memory.buffers[2].offset + memory.buffers[2].bytes, memory.buffers[0].bytes);
}

TEST(MemoryPlanner, RandomPlansAreSound) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    ExecutionPlan plan;
    uint32_t count = 1 + random() % 12;
    for (uint32_t i = 0; i < count; ++i)
      plan.buffers.push_back(buffer(1 + random() % 300, random() % 4 == 0));
    for (EntryPoint *entry : {&plan.prefill, &plan.decode}) {
      uint32_t steps = random() % 10;
      for (uint32_t s = 0; s < steps; ++s) {
        std::vector<Slot> args = {tokens()};
        for (uint32_t a = random() % 4; a > 0; --a)
          args.push_back(act(random() % count));
        entry->steps.push_back(step("s" + std::to_string(s), args));
      }
      entry->logits = random() % count;
    }
    auto memory = planMemory(plan, 1 + random() % 9);
    ASSERT_TRUE(memory.ok()) << memory.error().message;
    expectSound(plan, *memory);
  }
}

TEST(MemoryPlanner, RejectsBadPlans) {
  ExecutionPlan plan;
  plan.buffers = {buffer(8)};
  plan.decode.steps = {step("blk.0.attn_q", {tokens(), act(3)})};
  auto missing = planMemory(plan, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(
                "decode step 0 ('blk.0.attn_q') argument 1 names activation "
                "buffer 3 of 1"),
            std::string::npos)
      << missing.error().message;

  plan.decode.steps = {step("x", {tokens(), act(0)})};
  plan.decode.logits = 5;
  auto logits = planMemory(plan, 4);
  ASSERT_FALSE(logits.ok());
  EXPECT_NE(logits.error().message.find("decode returns activation buffer 5"),
            std::string::npos);

  plan.decode.logits = 0;
  EXPECT_TRUE(planMemory(plan, 4).ok());
  auto batch = planMemory(plan, 0);
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.error().message.find("batch size must be positive"),
            std::string::npos);
}

} // namespace
} // namespace kiln::runtime
