#include "SpecialTokenSplitter.h"

#include "Vocabulary.h"

namespace kiln {

namespace {

// C isspace in the "C" locale, which llama.cpp uses for the strip flags.
bool isAsciiSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

} // namespace

std::vector<TextFragment> splitSpecialTokens(const Vocabulary &vocab,
                                             std::string_view text,
                                             bool parseSpecial) {
  std::vector<TextFragment> fragments;
  if (text.empty())
    return fragments;
  fragments.push_back({kNoToken, 0, text.size()});

  std::vector<TextFragment> next;
  for (TokenId id : vocab.specialTokens()) {
    const TokenData &token = vocab.token(id);
    if (!parseSpecial && (token.attrs & (kAttrControl | kAttrUnknown)))
      continue;
    const std::string_view needle = token.text;
    // Most special tokens never occur; skip the rebuild for them.
    if (text.find(needle) == std::string_view::npos)
      continue;

    next.clear();
    for (const TextFragment &fragment : fragments) {
      if (!fragment.isText()) {
        next.push_back(fragment);
        continue;
      }
      const std::string_view window = text.substr(0, fragment.end);
      size_t position = fragment.begin;
      for (;;) {
        const size_t match = window.find(needle, position);
        if (match == std::string_view::npos)
          break;
        size_t leftEnd = match;
        if (token.attrs & kAttrLStrip)
          while (leftEnd > position && isAsciiSpace(text[leftEnd - 1]))
            --leftEnd;
        if (leftEnd > position)
          next.push_back({kNoToken, position, leftEnd});
        next.push_back({id, 0, 0});
        position = match + needle.size();
        if (token.attrs & kAttrRStrip)
          while (position < fragment.end && isAsciiSpace(text[position]))
            ++position;
      }
      if (position < fragment.end)
        next.push_back({kNoToken, position, fragment.end});
    }
    fragments.swap(next);
  }
  return fragments;
}

} // namespace kiln
