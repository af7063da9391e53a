// The merge loop shared by the BPE and SentencePiece tokenizers: symbols in
// a linked list, each knowing the queue key of the pair it starts (kNoPair
// if none; the lowest key merges first), a heap of keys whose entries go
// stale instead of being removed. The tokenizers differ only in how a pair
// is looked up (its key) and in what a merge records.
#pragma once

#include "KeyHeap.h"

#include <cstdint>
#include <limits>
#include <vector>

namespace kiln {

inline constexpr uint64_t kNoPair = std::numeric_limits<uint64_t>::max();

// Symbol needs `length` (0 once merged away), `prev`, `next` and `pairKey`;
// a key's low 32 bits are its left symbol's index. findPair(i) sets
// symbols[i].pairKey (and whatever the merge needs); merged(left, right)
// records what the merge built before right is folded into left.
template <typename Symbol, typename FindPair, typename Merged>
void mergePairs(std::vector<Symbol> &symbols, KeyHeap &heap, FindPair findPair,
                Merged merged) {
  auto queuePair = [&](int32_t left) {
    if (left < 0)
      return;
    findPair(left);
    if (symbols[left].pairKey != kNoPair)
      heap.push(symbols[left].pairKey);
  };
  for (int32_t i = 0; i < static_cast<int32_t>(symbols.size()); ++i) {
    findPair(i);
    if (symbols[i].pairKey != kNoPair)
      heap.append(symbols[i].pairKey);
  }
  heap.heapify();

  while (!heap.empty()) {
    const uint64_t key = heap.top();
    heap.pop();
    const auto l = static_cast<int32_t>(key & 0xFFFFFFFFu);
    Symbol &left = symbols[l];
    // Stale: the symbol was merged away, or its pair changed since.
    if (left.length == 0 || left.pairKey != key)
      continue;
    Symbol &right = symbols[left.next];
    merged(left, right);
    left.length += right.length;
    right.length = 0;
    right.pairKey = kNoPair;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = l;
    queuePair(left.prev);
    queuePair(l);
  }
}

} // namespace kiln
