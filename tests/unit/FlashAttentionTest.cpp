// The CPU flash-attention kernel's prefill path computes blocks of query
// rows whose lanes never mix: whichever way the task range is shared out
// (a thread's share may start or end inside a block), every output is the
// same bit for bit. Both paths (a prompt's blocks, one row's per-head
// dots) are held to the unfused kernel's result with a tolerance: it
// rounds the softmax weights to f16 before the values (as llama.cpp does
// over an f16 cache; values here up to 2, so about 2 * 2^-11), and flash
// attention keeps them in f32.
#include "codegen/cpu/CpuJit.h"
#include "codegen/cpu/CpuSchedule.h"
#include "quant/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace kiln::codegen {
namespace {

struct Shape {
  int64_t heads, kvHeads, headDim;
};

KernelDesc attentionDesc(KernelKind kind, const Shape &s, int64_t context) {
  KernelDesc d;
  d.kind = kind;
  d.cols = d.outCols = s.heads * s.headDim;
  d.attention = {s.heads, s.kvHeads, s.headDim, 1.0f / std::sqrt(float(s.headDim)), context,
                 /*kvHalf=*/true};
  return d;
}

class Kernels {
public:
  Kernels(const Shape &s, int64_t context) {
    for (KernelKind kind : {KernelKind::FlashAttention, KernelKind::Attention}) {
      model_.kernels.push_back(attentionDesc(kind, s, context));
      model_.plan.kernelSymbols.push_back("flash_test_" +
                                          std::to_string(model_.kernels.size()));
    }
  }
  Status compile() {
    auto jit = cpu::CpuJit::compile(model_, cpu::CpuOptions{});
    if (!jit)
      return jit.error();
    jit_ = std::move(*jit);
    return Status::success();
  }
  // Calls kernel k over the task ranges [cuts[i], cuts[i + 1]).
  void run(size_t k, std::vector<void *> args, int64_t rows, int64_t position,
           const std::vector<int64_t> &cuts) const {
    auto fn = jit_->kernels()[k].fn;
    for (size_t i = 0; i + 1 < cuts.size(); ++i)
      fn(args.data(), rows, position, cuts[i], cuts[i + 1]);
  }
  int64_t tasks(size_t k, int64_t rows) const {
    runtime::TaskCount count = cpu::taskCount(model_.kernels[k]);
    return count.fixed + count.perRow * rows;
  }

private:
  LoweredModel model_;
  std::unique_ptr<cpu::CpuJit> jit_;
};

struct Inputs {
  std::vector<float> q;
  std::vector<uint8_t> keys, values;
};

Inputs randomInputs(const Shape &s, int64_t context, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  auto floats = [&](size_t n) {
    std::vector<float> v(n);
    for (float &x : v)
      x = uniform(rng);
    return v;
  };
  Inputs in;
  in.q = floats(size_t(rows * s.heads * s.headDim));
  size_t cache = size_t(context * s.kvHeads * s.headDim);
  for (auto *bytes : {&in.keys, &in.values}) {
    bytes->resize(cache * 2);
    EXPECT_TRUE(quantize(GgmlType::F16, floats(cache), *bytes).ok());
  }
  return in;
}

constexpr float kTolerance = 2e-3f;

// Rows of a prompt over a cache that already holds `position` entries:
// several blocks (the first one partial), and tiles of 32 that end inside
// the block for some of its rows.
void expectSameForEverySplit(const Shape &s, int64_t rows, int64_t position) {
  const int64_t context = position + rows;
  Kernels kernels(s, context);
  ASSERT_TRUE(kernels.compile().ok());
  Inputs in = randomInputs(s, context, rows, uint32_t(rows * 131 + s.heads));
  const int64_t tasks = kernels.tasks(0, rows);
  std::vector<float> whole(in.q.size(), NAN), split(in.q.size(), NAN);
  kernels.run(0, {in.q.data(), in.keys.data(), in.values.data(), whole.data()}, rows,
              position, {0, tasks});
  // Three shares (two equal cuts: two shares), so that a share may both
  // start and end inside one block.
  for (int64_t cut = 1; cut < tasks; ++cut)
    for (int64_t second = cut; second < tasks; ++second) {
      std::fill(split.begin(), split.end(), NAN);
      kernels.run(0, {in.q.data(), in.keys.data(), in.values.data(), split.data()}, rows,
                  position, {0, cut, second, tasks});
      ASSERT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * sizeof(float)), 0)
          << "tasks split at " << cut << " and " << second << " of " << tasks;
    }
  // And the same values as the unfused kernel, up to rounding.
  std::vector<float> plain(in.q.size(), NAN);
  kernels.run(1, {in.q.data(), in.keys.data(), in.values.data(), plain.data()}, rows,
              position, {0, kernels.tasks(1, rows)});
  for (size_t i = 0; i < whole.size(); ++i)
    ASSERT_NEAR(whole[i], plain[i], kTolerance) << "element " << i;
}

TEST(FlashAttention, GroupedHeadsSameForEverySplitOfTheTasks) {
  // Eight query heads per KV head: blocks of 4 rows.
  expectSameForEverySplit({16, 2, 64}, 11, 37);
}

TEST(FlashAttention, ThreeHeadsPerKvHeadSameForEverySplitOfTheTasks) {
  // Blocks of 10 rows fill 30 of the 32 lanes; 20 rows are two whole ones.
  expectSameForEverySplit({6, 2, 16}, 20, 3);
}

TEST(FlashAttention, OneHeadPerKvHeadSameForEverySplitOfTheTasks) {
  // No grouping: blocks of 32 rows, here one partial and one whole.
  expectSameForEverySplit({3, 3, 16}, 40, 5);
}

void expectDecodeMatchesUnfused(const Shape &s) {
  const int64_t position = 70, context = 71;
  Kernels kernels(s, context);
  ASSERT_TRUE(kernels.compile().ok());
  Inputs in = randomInputs(s, context, 1, 7);
  std::vector<float> flash(in.q.size(), NAN), plain(in.q.size(), NAN);
  kernels.run(0, {in.q.data(), in.keys.data(), in.values.data(), flash.data()}, 1, position,
              {0, kernels.tasks(0, 1)});
  kernels.run(1, {in.q.data(), in.keys.data(), in.values.data(), plain.data()}, 1, position,
              {0, kernels.tasks(1, 1)});
  for (size_t i = 0; i < flash.size(); ++i)
    ASSERT_NEAR(flash[i], plain[i], kTolerance) << "element " << i;
}

TEST(FlashAttention, DecodeOfEightHeadsPerKvHeadMatchesTheUnfusedKernel) {
  expectDecodeMatchesUnfused({16, 2, 64}); // 64 columns at a time
}

TEST(FlashAttention, DecodeOfFourHeadsPerKvHeadMatchesTheUnfusedKernel) {
  expectDecodeMatchesUnfused({8, 2, 32}); // 32 columns at a time
}

TEST(FlashAttention, DecodeOfOneHeadPerKvHeadMatchesTheUnfusedKernel) {
  expectDecodeMatchesUnfused({4, 4, 64}); // the f16 cache read in place
}

} // namespace
} // namespace kiln::codegen
