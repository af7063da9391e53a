// Token text -> id lookup, the innermost step of every tokenizer (most
// lookups miss: they ask whether two symbols would form a token). An open
// addressing table of (hash, id) pairs, compared against the token texts
// only on a hash match, keeps a miss to about one cache line.
#pragma once

#include "TokenTypes.h"

#include <span>
#include <string_view>
#include <vector>

namespace kiln {

class TokenIndex {
public:
  // Indexes tokens[i].text as id i; returns the first id whose text
  // repeats an earlier one (kNoToken if all differ), which is then not
  // indexed. Lookups take the same tokens.
  TokenId build(std::span<const TokenData> tokens);

  TokenId find(std::string_view text, std::span<const TokenData> tokens) const;

  static uint64_t hash(std::string_view text);

private:
  struct Slot {
    uint32_t hash = 0;
    TokenId id = kNoToken;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

} // namespace kiln
