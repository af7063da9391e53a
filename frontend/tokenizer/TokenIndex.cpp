#include "TokenIndex.h"

#include <bit>
#include <cstring>

namespace kiln {

namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  return x;
}

} // namespace

uint64_t TokenIndex::hash(std::string_view text) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ text.size();
  const char *p = text.data();
  size_t n = text.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = mix(h ^ word);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return mix(h ^ tail ^ (uint64_t(n) << 56));
}

TokenId TokenIndex::build(std::span<const TokenData> tokens) {
  size_t capacity = 16;
  while (capacity < tokens.size() * 2)
    capacity *= 2;
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  TokenId duplicate = kNoToken;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string &text = tokens[id].text;
    const uint64_t h = hash(text);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot &slot = slots_[i];
      if (slot.id == kNoToken) {
        slot = {static_cast<uint32_t>(h >> 32), static_cast<TokenId>(id)};
        break;
      }
      if (slot.hash == static_cast<uint32_t>(h >> 32) &&
          tokens[slot.id].text == text) {
        if (duplicate == kNoToken)
          duplicate = static_cast<TokenId>(id);
        break;
      }
    }
  }
  return duplicate;
}

TokenId TokenIndex::find(std::string_view text,
                         std::span<const TokenData> tokens) const {
  if (slots_.empty())
    return kNoToken;
  const uint64_t h = hash(text);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot &slot = slots_[i];
    if (slot.id == kNoToken)
      return kNoToken;
    if (slot.hash == tag && tokens[slot.id].text == text)
      return slot.id;
  }
}

} // namespace kiln
