#include "Detokenizer.h"

#include "ByteLevel.h"
#include "StreamDecoder.h"
#include "Unicode.h"
#include "Vocabulary.h"

#include <cstdlib>

namespace kiln {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581

std::string replaceSpaceMarks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpaceMark.size()) == kSpaceMark) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// GPT-2 alphabet back to bytes. A character outside the alphabet (not
// produced by byte-level BPE) is kept as its UTF-8 bytes.
std::string fromByteAlphabet(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    unicode::DecodedChar c = unicode::decodeChar(text, offset);
    if (auto byte = bytelevel::byteForChar(c.codepoint))
      out += static_cast<char>(*byte);
    else
      out.append(text.substr(offset, c.length));
    offset += c.length;
  }
  return out;
}

// "<0x0A>" -> "\n"; other texts are kept as they are.
std::string byteTokenPiece(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  if (text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>' &&
      hex(text[3]) >= 0 && hex(text[4]) >= 0)
    return std::string(1, static_cast<char>(hex(text[3]) * 16 + hex(text[4])));
  return std::string(text);
}

} // namespace

Detokenizer::Detokenizer(std::shared_ptr<const Vocabulary> vocab)
    : vocab_(std::move(vocab)) {
  const Vocabulary &v = *vocab_;
  pieces_.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const TokenData &token = v.token(static_cast<TokenId>(i));
    if (token.attrs & kAttrSpecialKinds)
      pieces_[i] = token.text;
    else if (token.attrs & kAttrNormal)
      pieces_[i] = v.kind() == TokenizerKind::Bpe
                       ? fromByteAlphabet(token.text)
                       : replaceSpaceMarks(token.text);
    else if (token.attrs & kAttrByte)
      pieces_[i] = byteTokenPiece(token.text);
    // unused and undefined tokens print nothing
  }
}

Error Detokenizer::outOfRange(TokenId id) const {
  return makeError(vocab_->source(), ": token id ", std::to_string(id),
                   " is outside the vocabulary (ids 0..",
                   std::to_string(vocab_->size() - 1), ")");
}

bool Detokenizer::isHidden(TokenId id) const {
  return vocab_->hasAttr(id, kAttrControl | kAttrUnknown);
}

Result<std::string_view> Detokenizer::piece(TokenId id,
                                            bool renderSpecial) const {
  if (!vocab_->contains(id))
    return outOfRange(id);
  if (!renderSpecial && isHidden(id))
    return std::string_view();
  return std::string_view(pieces_[id]);
}

Result<std::string> Detokenizer::decode(std::span<const TokenId> ids,
                                        const DecodeOptions &options) const {
  StreamDecoder stream(*this, options);
  std::string text;
  for (TokenId id : ids) {
    auto part = stream.push(id);
    if (!part)
      return std::move(part).takeError();
    text += *part;
  }
  text += stream.finish();
  if (options.cleanUpSpaces && vocab_->cleanSpaces())
    text = cleanUpTokenizationSpaces(text);
  return text;
}

std::string cleanUpTokenizationSpaces(std::string_view input) {
  // Three passes, each compacting the buffer in place; a pass reads the
  // bytes the one before left (including the NUL pass 2 writes over a
  // swallowed space), as llama.cpp's does.
  std::string text(input);
  auto pass = [&text](auto &&step) {
    if (text.empty())
      return;
    size_t total = 1;
    for (size_t i = 1; i < text.size(); ++i)
      step(i, total);
    text.resize(total);
  };
  pass([&text](size_t &i, size_t &total) { // " ?" " !" " ." " ," lose the space
    const char c = text[i];
    if (text[i - 1] == ' ' && (c == '?' || c == '!' || c == '.' || c == ','))
      --total;
    text[total++] = c;
  });
  pass([&text](size_t &i, size_t &total) { // " ' " -> "'"
    const char c = text[i];
    if (c == '\'' && i + 1 < text.size() && text[i - 1] == ' ' &&
        text[i + 1] == ' ') {
      --total;
      text[++i] = '\0';
    }
    text[total++] = c;
  });
  pass([&text](size_t &i, size_t &total) { // " 's" " 'm" " 're" " 've"
    const char c = text[i];
    if (text[i - 1] == ' ' && c == '\'' && i + 1 < text.size()) {
      const char next = text[i + 1];
      if (next == 's' || next == 'm')
        --total;
      else if (next != 't' && next != 'd' && i + 2 < text.size() &&
               ((next == 'r' || next == 'v') && text[i + 2] == 'e'))
        --total;
    }
    text[total++] = c;
  });
  return text;
}

} // namespace kiln
