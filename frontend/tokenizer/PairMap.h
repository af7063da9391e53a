// A map from a pair of 32-bit ids to a small value: BPE's merge table,
// asked once per adjacent symbol pair. Open addressing with linear probing
// over a flat array; built once, then read-only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace kiln {

template <typename Value> class PairMap {
public:
  static uint64_t key(int32_t first, int32_t second) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(first)) << 32) |
           static_cast<uint32_t>(second);
  }

  // Sizes the table for `count` entries; call before inserting.
  void reserve(size_t count) {
    size_t capacity = 16;
    while (capacity < count * 2)
      capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
  }

  // Inserts unless the key is present (the first value stays). Ids are
  // never negative.
  void insert(uint64_t k, const Value &value) {
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      Slot &slot = slots_[i];
      if (slot.key == kEmpty) {
        slot = {k, value};
        return;
      }
      if (slot.key == k)
        return;
    }
  }

  const Value *find(uint64_t k) const {
    if (slots_.empty())
      return nullptr;
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      const Slot &slot = slots_[i];
      if (slot.key == kEmpty)
        return nullptr;
      if (slot.key == k)
        return &slot.value;
    }
  }

private:
  // No pair of ids >= 0 has this key.
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  struct Slot {
    uint64_t key = kEmpty;
    Value value{};
  };

  static uint64_t hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

} // namespace kiln
