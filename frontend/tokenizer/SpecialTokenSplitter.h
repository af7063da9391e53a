// Finds special tokens written in the text ("<|endoftext|>", "<s>"...) and
// cuts the text around them, before the subword model sees it.
//
// As in llama.cpp: user-defined tokens are always recognized; control and
// unknown tokens only when special tokens are parsed. Longer tokens are
// matched first. Tokens marked lstrip/rstrip swallow the whitespace before
// or after them.
#pragma once

#include "TokenTypes.h"

#include <string_view>
#include <vector>

namespace kiln {

class Vocabulary;

struct TextFragment {
  TokenId token = kNoToken; // a recognized special token, or kNoToken
  size_t begin = 0, end = 0; // the text, when token == kNoToken
  bool isText() const { return token == kNoToken; }
};

std::vector<TextFragment> splitSpecialTokens(const Vocabulary &vocab,
                                             std::string_view text,
                                             bool parseSpecial);

} // namespace kiln
