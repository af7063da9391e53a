#include "WpmTokenizer.h"

#include "Unicode.h"
#include "Vocabulary.h"

namespace kiln {

namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81"; // U+2581

// BERT's "Chinese character" ranges (CJK ideographs), as its reference
// tokenizer and llama.cpp define them.
bool isCjkIdeograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B920 && cp <= 0x2CEAF) || // sic: 0x2B820 in Unicode
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

} // namespace

WpmTokenizer::WpmTokenizer(const Vocabulary &vocab) : vocab_(vocab) {
  nodeToken_.push_back(kNoToken);
  for (size_t id = 0; id < vocab.size(); ++id) {
    uint32_t node = 0;
    for (char c : vocab.token(static_cast<TokenId>(id)).text) {
      const uint64_t key = (uint64_t(node) << 8) | static_cast<uint8_t>(c);
      auto [it, inserted] =
          edges_.emplace(key, static_cast<uint32_t>(nodeToken_.size()));
      if (inserted)
        nodeToken_.push_back(kNoToken);
      node = it->second;
    }
    nodeToken_[node] = static_cast<TokenId>(id);
  }
}

std::pair<TokenId, size_t>
WpmTokenizer::longestToken(std::string_view text) const {
  std::pair<TokenId, size_t> best{kNoToken, 0};
  uint32_t node = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto it = edges_.find((uint64_t(node) << 8) | static_cast<uint8_t>(text[i]));
    if (it == edges_.end())
      break;
    node = it->second;
    if (nodeToken_[node] != kNoToken)
      best = {nodeToken_[node], i + 1};
  }
  return best;
}

std::vector<std::string> WpmTokenizer::words(std::string_view text) const {
  const bool strip = vocab_.stripAccents();
  const bool lower = vocab_.lowercase();
  std::vector<std::string> words(1);
  auto endWord = [&] {
    if (!words.back().empty())
      words.emplace_back();
  };
  for (size_t offset = 0; offset < text.size();) {
    unicode::DecodedChar decoded = unicode::decodeChar(text, offset);
    offset += decoded.length;
    char32_t cp = decoded.codepoint;
    if (strip)
      cp = unicode::nfdFirst(cp);
    if (unicode::isWhitespace(cp)) {
      endWord();
      continue;
    }
    const unicode::CharClass cls = unicode::charClass(cp);
    if (cp == 0 || cp == unicode::kReplacementChar ||
        cls == unicode::CharClass::Control)
      continue;
    if (strip && cls == unicode::CharClass::Mark)
      continue;
    const char32_t shown = lower ? unicode::toLower(cp) : cp;
    if (cls == unicode::CharClass::Punctuation ||
        (cp < 0x7F && cls == unicode::CharClass::Symbol) ||
        isCjkIdeograph(cp)) {
      endWord();
      unicode::appendUtf8(words.back(), shown);
      words.emplace_back();
    } else {
      unicode::appendUtf8(words.back(), shown);
    }
  }
  if (words.back().empty())
    words.pop_back();
  return words;
}

Status WpmTokenizer::encode(std::string_view text, bool /*afterSpecial*/,
                            std::vector<TokenId> &out) const {
  std::string word;
  for (const std::string &bare : words(text)) {
    word.assign(kWordStart);
    word += bare;
    const size_t start = out.size();
    bool whole = true;
    for (size_t i = 0; i < word.size();) {
      auto [id, length] = longestToken(std::string_view(word).substr(i));
      if (id == kNoToken) {
        whole = false;
        break;
      }
      out.push_back(id);
      i += length;
    }
    if (!whole) {
      out.resize(start);
      if (vocab_.unk() != kNoToken)
        out.push_back(vocab_.unk());
    }
  }
  return Status::success();
}

} // namespace kiln
