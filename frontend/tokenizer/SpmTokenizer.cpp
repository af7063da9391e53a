#include "SpmTokenizer.h"

#include "Unicode.h"
#include "Vocabulary.h"

#include <cstdio>
#include <limits>
#include <queue>

namespace kiln {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581

struct Symbol {
  size_t begin = 0;  // in the escaped text
  size_t length = 0; // 0 once merged into its left neighbour
  int32_t prev = -1, next = -1;
  int32_t node = -1; // how it was built, for taking it apart
};

// A symbol's history: a character, or the merge of two earlier nodes.
struct Node {
  size_t begin = 0, length = 0;
  int32_t left = -1, right = -1;
};

struct Bigram {
  float score;
  int32_t left, right;
  size_t length; // of the merged text; stale once the symbols change
};

struct BigramOrder {
  bool operator()(const Bigram &a, const Bigram &b) const {
    if (a.score != b.score)
      return a.score < b.score; // highest score on top
    return a.left > b.left;     // then leftmost
  }
};

} // namespace

SpmTokenizer::SpmTokenizer(const Vocabulary &vocab) : vocab_(vocab) {
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
  if (escaped.empty())
    return Status::success();
  if (escaped.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return makeError("text of ", std::to_string(text.size()),
                     " bytes is too long to tokenize");

  std::vector<Symbol> symbols;
  std::vector<Node> nodes;
  symbols.reserve(escaped.size());
  nodes.reserve(escaped.size() * 2);
  for (size_t offset = 0; offset < escaped.size();) {
    size_t length = std::min(unicode::sequenceLength(escaped[offset]),
                             escaped.size() - offset);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({offset, length, index - 1, -1, index});
    nodes.push_back({offset, length, -1, -1});
    if (index > 0)
      symbols[index - 1].next = index;
    offset += length;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const size_t maxTokenBytes = vocab_.maxTokenBytes();
  auto tryPair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0)
      return;
    const size_t length = symbols[left].length + symbols[right].length;
    if (length > maxTokenBytes)
      return; // no token is that long
    TokenId id = vocab_.find(
        std::string_view(escaped).substr(symbols[left].begin, length));
    if (id == kNoToken)
      return;
    queue.push({vocab_.token(id).score, left, right, length});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i)
    tryPair(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol &left = symbols[bigram.left];
    Symbol &right = symbols[bigram.right];
    // Stale: one side was merged away or grew since the pair was queued.
    if (left.length == 0 || right.length == 0 ||
        left.length + right.length != bigram.length)
      continue;
    nodes.push_back({left.begin, bigram.length, left.node, right.node});
    left.node = static_cast<int32_t>(nodes.size() - 1);
    left.length = bigram.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = bigram.left;
    tryPair(left.prev, bigram.left);
    tryPair(bigram.left, left.next);
  }

  // Emit each final symbol: a token, or its parts, or its bytes. (Merged
  // symbols are tokens by construction; taking apart is for completeness.)
  std::vector<int32_t> stack;
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    stack.push_back(symbols[i].node);
    while (!stack.empty()) {
      const Node node = nodes[stack.back()];
      stack.pop_back();
      std::string_view piece =
          std::string_view(escaped).substr(node.begin, node.length);
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
  return Status::success();
}

} // namespace kiln
