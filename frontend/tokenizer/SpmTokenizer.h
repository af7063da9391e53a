// SentencePiece-style tokenization as llama.cpp does it for "llama"
// vocabularies: spaces become U+2581 (with one prefixed when the
// vocabulary asks), the text starts as one symbol per UTF-8 character, and
// the adjacent pair whose concatenation is the highest-scoring token is
// merged first (ties: leftmost), until no pair forms a token. A final
// symbol that is not a token is taken apart into the pieces it was merged
// from, and characters that are not tokens fall back to byte tokens
// <0xNN> (or to one unknown token when the vocabulary lacks them).
//
// The pair queue is a heap with lazy invalidation, so a text of n bytes
// takes O(n log n).
#pragma once

#include "SubwordModel.h"

#include <array>

namespace kiln {

class Vocabulary;

class SpmTokenizer final : public SubwordModel {
public:
  explicit SpmTokenizer(const Vocabulary &vocab);

  Status encode(std::string_view text, bool afterSpecial,
                std::vector<TokenId> &out) const override;

private:
  struct Scratch;
  void encodeSegment(std::string_view text, Scratch &scratch,
                     std::vector<TokenId> &out) const;
  void emitBytes(std::string_view bytes, std::vector<TokenId> &out) const;

  const Vocabulary &vocab_;
  bool splitWords_; // no token joins a word to the next one's U+2581
  std::array<TokenId, 256> byteTokens_;
};

} // namespace kiln
