#include "BpeTokenizer.h"

#include "ByteLevel.h"
#include "KeyHeap.h"
#include "PairMerge.h"
#include "PreTokenizer.h"
#include "Unicode.h"
#include "Vocabulary.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <unordered_map>

namespace kiln {

namespace {

struct Symbol {
  int32_t id;      // interned text, or -1 (takes part in no merge)
  uint32_t begin;  // in the word
  uint32_t length; // 0 once merged into its left neighbour
  int32_t prev, next;
  int32_t pairResult; // what the pair it starts merges into
  // The queue key of the pair this symbol starts now (kNoPair if none). A
  // queued key that differs is stale.
  uint64_t pairKey;
};


// Queue order as one integer, smallest first: lowest rank, then leftmost.
uint64_t queueKey(int32_t rank, int32_t left) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) |
         static_cast<uint32_t>(left);
}

// Bad UTF-8 bytes become U+FFFD before splitting, as in llama.cpp, which
// decodes the text first.
std::string normalizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const auto byte = static_cast<unsigned char>(text[offset]);
    if (byte < 0x80) {
      out.push_back(static_cast<char>(byte));
      ++offset;
      continue;
    }
    unicode::DecodedChar c = unicode::decodeChar(text, offset);
    unicode::appendUtf8(out, c.codepoint);
    offset += c.length;
  }
  return out;
}

} // namespace

BpeTokenizer::BpeTokenizer(const Vocabulary &vocab, RegexSplitter splitter)
    : vocab_(vocab), splitter_(std::move(splitter)) {}

Result<std::unique_ptr<BpeTokenizer>>
BpeTokenizer::create(const Vocabulary &vocab) {
  const PreTokenizerFamily *family = vocab.preTokenizer();
  if (!family)
    return makeError(vocab.source(), ": no pre-tokenizer for this BPE "
                                     "vocabulary");
  auto splitter = RegexSplitter::compile(
      family->patterns, vocab.source() + ": pre-tokenizer '" +
                            vocab.preName() + "'");
  if (!splitter)
    return std::move(splitter).takeError();
  std::unique_ptr<BpeTokenizer> bpe(
      new BpeTokenizer(vocab, std::move(*splitter)));
  bpe->ignoreMerges_ = family->ignoreMerges;

  // Every string that takes part in a merge gets a number; only the
  // numbers are kept.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids;
  auto intern = [&](const std::string &text) {
    auto [it, inserted] =
        ids.try_emplace(text, static_cast<int32_t>(bpe->tokenOfSymbol_.size()));
    if (inserted)
      bpe->tokenOfSymbol_.push_back(vocab.find(text));
    return it->second;
  };

  for (unsigned b = 0; b < 256; ++b) {
    std::string_view letter = bytelevel::utf8ForByte(static_cast<uint8_t>(b));
    bpe->byteSymbols_[b] = intern(std::string(letter));
    for (char c : letter) {
      TokenId id = vocab.find(std::string_view(&c, 1));
      if (id != kNoToken)
        bpe->byteFallback_[b].push_back(id);
    }
  }
  const auto &merges = vocab.merges();
  bpe->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto &[left, right] = merges[rank];
    if (left.empty() || right.empty())
      continue; // a malformed entry; llama.cpp can never match it either
    const int32_t l = intern(left), r = intern(right);
    const int32_t merged = intern(left + right);
    // The first occurrence of a pair keeps its rank.
    bpe->merges_.insert(PairMap<MergeResult>::key(l, r),
                        MergeResult{static_cast<int32_t>(rank), merged});
  }
  return bpe;
}

struct BpeTokenizer::Scratch {
  std::vector<Symbol> symbols;
  KeyHeap heap; // pair keys
};

void BpeTokenizer::encodeWord(std::string_view word, Scratch &scratch,
                              std::vector<TokenId> &out) const {
  if (ignoreMerges_) {
    TokenId whole = vocab_.find(bytelevel::encode(word));
    if (whole != kNoToken) {
      out.push_back(whole);
      return;
    }
  }
  auto &symbols = scratch.symbols;
  symbols.resize(word.size());
  for (size_t i = 0; i < word.size(); ++i)
    symbols[i] = {byteSymbols_[static_cast<uint8_t>(word[i])],
                  static_cast<uint32_t>(i),
                  1,
                  static_cast<int32_t>(i) - 1,
                  i + 1 < word.size() ? static_cast<int32_t>(i + 1) : -1,
                  -1,
                  kNoPair};

  // Entries of the heap go stale instead of being removed.
  auto &heap = scratch.heap;
  heap.clear();
  heap.reserve(symbols.size());
  auto findPair = [&](int32_t left) {
    Symbol &symbol = symbols[left];
    symbol.pairKey = kNoPair;
    if (symbol.next < 0 || symbol.id < 0 || symbols[symbol.next].id < 0)
      return;
    const MergeResult *merge = merges_.find(
        PairMap<MergeResult>::key(symbol.id, symbols[symbol.next].id));
    if (!merge)
      return;
    symbol.pairKey = queueKey(merge->rank, left);
    symbol.pairResult = merge->symbol;
  };
  mergePairs(symbols, heap, findPair, [](Symbol &left, Symbol &) {
    left.id = left.pairResult;
  });

  for (int32_t i = 0; i >= 0 && !symbols.empty(); i = symbols[i].next) {
    const Symbol &symbol = symbols[i];
    TokenId id = symbol.id >= 0 ? tokenOfSymbol_[symbol.id] : kNoToken;
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (uint32_t k = 0; k < symbol.length; ++k) {
      const auto &fallback =
          byteFallback_[static_cast<uint8_t>(word[symbol.begin + k])];
      out.insert(out.end(), fallback.begin(), fallback.end());
    }
  }
}

Status BpeTokenizer::encode(std::string_view text, bool /*afterSpecial*/,
                            std::vector<TokenId> &out) const {
  if (text.size() >= UINT32_MAX)
    return makeError("text of ", std::to_string(text.size()),
                     " bytes is too long to tokenize");
  const std::string normalized = normalizeUtf8(text);
  std::vector<TextSpan> words;
  KILN_TRY(splitter_.split(normalized, words));
  Scratch scratch;
  for (const TextSpan &span : words)
    encodeWord(std::string_view(normalized).substr(span.begin, span.size()),
               scratch, out);
  return Status::success();
}

} // namespace kiln
