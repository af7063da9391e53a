// Byte-level BPE as llama.cpp does it for "gpt2" vocabularies: the text is
// split into words by the pre-tokenizer family's regexes, each word's bytes
// become symbols of GPT-2's byte alphabet, and the adjacent pair with the
// lowest merge rank is merged first (ties: leftmost) until no pair has a
// merge. Each final symbol is a token; one that is not falls back to the
// tokens of its single bytes, as llama.cpp does.
//
// Merge halves and results are interned as integers once, so merging
// compares numbers, and the pair queue is a heap with lazy invalidation:
// O(n log n) for a word of n bytes.
#pragma once

#include "PairMap.h"
#include "RegexSplitter.h"
#include "SubwordModel.h"

#include <array>
#include <memory>

namespace kiln {

class Vocabulary;

class BpeTokenizer final : public SubwordModel {
public:
  static Result<std::unique_ptr<BpeTokenizer>> create(const Vocabulary &vocab);

  Status encode(std::string_view text, bool afterSpecial,
                std::vector<TokenId> &out) const override;

private:
  explicit BpeTokenizer(const Vocabulary &vocab, RegexSplitter splitter);

  struct Scratch;
  void encodeWord(std::string_view word, Scratch &scratch,
                  std::vector<TokenId> &out) const;

  struct MergeResult {
    int32_t rank;
    int32_t symbol; // interned text of the merged pair
  };
  const Vocabulary &vocab_;
  RegexSplitter splitter_;
  bool ignoreMerges_ = false;
  std::vector<TokenId> tokenOfSymbol_; // by interned text
  PairMap<MergeResult> merges_; // by the interned texts of the halves
  std::array<int32_t, 256> byteSymbols_;
  // The tokens llama.cpp falls back to for a byte of an unknown symbol:
  // one per byte of the byte's alphabet character that is a token itself.
  std::array<std::vector<TokenId>, 256> byteFallback_;
};

} // namespace kiln
