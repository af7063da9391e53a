// The part of a tokenizer that turns one run of plain text (no special
// tokens in it) into token ids: SPM, BPE or WPM.
#pragma once

#include "TokenTypes.h"
#include "support/Result.h"

#include <string_view>
#include <vector>

namespace kiln {

class SubwordModel {
public:
  virtual ~SubwordModel() = default;

  // Appends the tokens of `text`. `afterSpecial` is true at the start of
  // the input and right after a special token (SPM then prefixes a space).
  virtual Status encode(std::string_view text, bool afterSpecial,
                        std::vector<TokenId> &out) const = 0;
};

} // namespace kiln
