// WordPiece as llama.cpp does it for "bert" vocabularies. The text is split
// into words at whitespace, with each punctuation mark, ASCII symbol and
// CJK ideograph a word of its own; control characters are dropped; letters
// are lowercased, and accents removed (each character is replaced by the
// first code point of its canonical decomposition and combining marks are
// dropped), as the vocabulary's normalizer flags say. Each word, prefixed
// with U+2581 (the GGUF form of a word start; continuations carry no
// "##"), is cut greedily into the longest tokens; a word with a part that
// matches no token becomes the unknown token as a whole.
//
// Lowercasing and accent removal lose information: decode(encode(text))
// gives back the normalized words, not the text.
#pragma once

#include "SubwordModel.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln {

class Vocabulary;

class WpmTokenizer final : public SubwordModel {
public:
  explicit WpmTokenizer(const Vocabulary &vocab);

  Status encode(std::string_view text, bool afterSpecial,
                std::vector<TokenId> &out) const override;

  // The words of `text` after normalization (without the U+2581 prefix).
  std::vector<std::string> words(std::string_view text) const;

private:
  // The longest token that `text` starts with: (id, bytes), or (kNoToken, 0).
  std::pair<TokenId, size_t> longestToken(std::string_view text) const;

  const Vocabulary &vocab_;
  // A byte trie of all token texts: node 0 is the root; an edge is keyed by
  // (node << 8) | byte.
  std::unordered_map<uint64_t, uint32_t> edges_;
  std::vector<TokenId> nodeToken_;
};

} // namespace kiln
