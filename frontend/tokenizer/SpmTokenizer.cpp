#include "SpmTokenizer.h"

#include "KeyHeap.h"
#include "PairMerge.h"
#include "Unicode.h"
#include "Vocabulary.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <functional>
#include <limits>

namespace kiln {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581

// Queue order as one integer, smallest first: highest score, then leftmost
// pair. Scores map to integers that sort like the floats, negated.
uint64_t pairKey(float score, int32_t left) {
  if (score == 0.0f)
    score = 0.0f; // -0 and +0 tie, as floats do
  uint32_t bits = std::bit_cast<uint32_t>(score);
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(~bits) << 32) | static_cast<uint32_t>(left);
}

// Whether some token has U+2581 right after another character: a merge
// could then join a word to the space that starts the next one.
bool tokensCrossWordStarts(const Vocabulary &vocab) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    std::string_view text = vocab.token(static_cast<TokenId>(id)).text;
    for (size_t at = text.find(kSpaceMark, 1); at != std::string_view::npos;
         at = text.find(kSpaceMark, at + 1))
      if (at < kSpaceMark.size() ||
          text.substr(at - kSpaceMark.size(), kSpaceMark.size()) != kSpaceMark)
        return true;
  }
  return false;
}

} // namespace

struct SpmTokenizer::Scratch {
  struct Symbol {
    size_t begin = 0;  // in the segment
    size_t length = 0; // 0 once merged into its left neighbour
    int32_t prev = -1, next = -1;
    int32_t node = -1; // how it was built, for taking it apart
    // The queue key of the pair this symbol starts now (kNoPair if its
    // text and its right neighbour's form no token). A queued key that
    // differs is stale.
    uint64_t pairKey = kNoPair;
  };
  // A symbol's history: a character, or the merge of two earlier nodes.
  struct Node {
    size_t begin = 0, length = 0;
    int32_t left = -1, right = -1;
  };
  std::vector<Symbol> symbols;
  std::vector<Node> nodes;
  KeyHeap heap; // pair keys
  std::vector<int32_t> stack;
};

SpmTokenizer::SpmTokenizer(const Vocabulary &vocab)
    : vocab_(vocab), splitWords_(!tokensCrossWordStarts(vocab)) {
  for (unsigned b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    TokenId id = vocab.find(name);
    if (id == kNoToken)
      id = vocab.find(std::string(1, static_cast<char>(b)));
    byteTokens_[b] = id;
  }
}

void SpmTokenizer::emitBytes(std::string_view bytes,
                             std::vector<TokenId> &out) const {
  for (char c : bytes)
    if (byteTokens_[static_cast<uint8_t>(c)] == kNoToken) {
      // Without byte tokens the character is unknown (llama.cpp would
      // fail here; SentencePiece emits the unknown token).
      if (vocab_.unk() != kNoToken)
        out.push_back(vocab_.unk());
      return;
    }
  for (char c : bytes)
    out.push_back(byteTokens_[static_cast<uint8_t>(c)]);
}

void SpmTokenizer::encodeSegment(std::string_view text, Scratch &scratch,
                                 std::vector<TokenId> &out) const {
  auto &symbols = scratch.symbols;
  auto &nodes = scratch.nodes;
  auto &heap = scratch.heap;
  symbols.clear();
  nodes.clear();
  heap.clear();
  symbols.reserve(text.size());
  nodes.reserve(2 * text.size());
  heap.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    size_t length =
        std::min(unicode::sequenceLength(text[offset]), text.size() - offset);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({offset, length, index - 1, -1, index, kNoPair});
    nodes.push_back({offset, length, -1, -1});
    if (index > 0)
      symbols[index - 1].next = index;
    offset += length;
  }

  const size_t maxTokenBytes = vocab_.maxTokenBytes();
  auto findPair = [&](int32_t left) {
    auto &symbol = symbols[left];
    symbol.pairKey = kNoPair;
    if (symbol.next < 0)
      return;
    const size_t length = symbol.length + symbols[symbol.next].length;
    if (length > maxTokenBytes)
      return; // no token is that long
    TokenId id = vocab_.find(text.substr(symbol.begin, length));
    if (id != kNoToken)
      symbol.pairKey = pairKey(vocab_.token(id).score, left);
  };
  mergePairs(symbols, heap, findPair, [&](auto &left, auto &right) {
    nodes.push_back({left.begin, left.length + right.length, left.node, right.node});
    left.node = static_cast<int32_t>(nodes.size() - 1);
  });

  // Emit each final symbol: a token, or its parts, or its bytes. (Merged
  // symbols are tokens by construction; taking apart is for completeness.)
  auto &stack = scratch.stack;
  for (int32_t i = 0; i >= 0 && !symbols.empty(); i = symbols[i].next) {
    stack.assign(1, symbols[i].node);
    while (!stack.empty()) {
      const auto node = nodes[stack.back()];
      stack.pop_back();
      std::string_view piece = text.substr(node.begin, node.length);
      TokenId id = vocab_.find(piece);
      if (id != kNoToken) {
        out.push_back(id);
      } else if (node.left >= 0) {
        stack.push_back(node.right); // left first
        stack.push_back(node.left);
      } else {
        emitBytes(piece, out);
      }
    }
  }
}

Status SpmTokenizer::encode(std::string_view text, bool afterSpecial,
                            std::vector<TokenId> &out) const {
  std::string escaped;
  escaped.reserve(text.size() + 8);
  if (vocab_.addSpacePrefix() && afterSpecial)
    escaped += kSpaceMark;
  for (char c : text) {
    if (c == ' ')
      escaped += kSpaceMark;
    else
      escaped += c;
  }
  if (escaped.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return makeError("text of ", std::to_string(text.size()),
                     " bytes is too long to tokenize");

  // When no token joins a character to a following U+2581, no merge
  // crosses a word start, so words are independent: merging them one at a
  // time gives the same tokens and keeps the work in cache. Cuts fall on
  // character boundaries as encodeSegment finds them (a bad lead byte may
  // swallow the bytes of a U+2581).
  Scratch scratch;
  const std::string_view all = escaped;
  size_t start = 0;
  if (splitWords_) {
    bool previousIsMark = false;
    for (size_t offset = 0; offset < all.size();) {
      const size_t length =
          std::min(unicode::sequenceLength(all[offset]), all.size() - offset);
      const bool isMark = all.substr(offset, length) == kSpaceMark;
      if (isMark && !previousIsMark && offset > start) {
        encodeSegment(all.substr(start, offset - start), scratch, out);
        start = offset;
      }
      previousIsMark = isMark;
      offset += length;
    }
  }
  if (start < all.size())
    encodeSegment(all.substr(start), scratch, out);
  return Status::success();
}

} // namespace kiln
