// A min-heap of 64-bit keys for the merge queues. Four children per node:
// half the depth of a binary heap, and a node's children share a cache
// line, which matters once a megabyte of text puts a million pairs in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

class KeyHeap {
public:
  bool empty() const { return keys_.empty(); }
  void clear() { keys_.clear(); }
  void reserve(size_t n) { keys_.reserve(n); }

  // Adds keys without ordering them; call heapify() before top()/pop().
  void append(uint64_t key) { keys_.push_back(key); }
  void heapify() {
    for (size_t i = keys_.size() / 4 + 1; i-- > 0;)
      siftDown(i);
  }

  void push(uint64_t key) {
    size_t i = keys_.size();
    keys_.push_back(key);
    while (i > 0) {
      const size_t parent = (i - 1) / 4;
      if (keys_[parent] <= key)
        break;
      keys_[i] = keys_[parent];
      i = parent;
    }
    keys_[i] = key;
  }

  uint64_t top() const { return keys_.front(); }

  void pop() {
    keys_.front() = keys_.back();
    keys_.pop_back();
    if (!keys_.empty())
      siftDown(0);
  }

private:
  void siftDown(size_t i) {
    const size_t n = keys_.size();
    if (i >= n)
      return;
    const uint64_t key = keys_[i];
    for (;;) {
      const size_t first = 4 * i + 1;
      if (first >= n)
        break;
      size_t best = first;
      const size_t last = first + 4 < n ? first + 4 : n;
      for (size_t c = first + 1; c < last; ++c)
        if (keys_[c] < keys_[best])
          best = c;
      if (keys_[best] >= key)
        break;
      keys_[i] = keys_[best];
      i = best;
    }
    keys_[i] = key;
  }

  std::vector<uint64_t> keys_;
};

} // namespace kiln
