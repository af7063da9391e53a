// Token ids, token attributes and tokenizer families shared by every part of
// the tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// The three families of `tokenizer.ggml.model` that kiln reads.
enum class TokenizerKind {
  Spm, // "llama": SentencePiece-style merges by score, byte fallback
  Bpe, // "gpt2": byte-level BPE with a regex pre-tokenizer
  Wpm, // "bert": WordPiece, greedy longest match
};

std::string_view tokenizerKindName(TokenizerKind kind);

// The values of `tokenizer.ggml.token_type` (the file format's numbering).
enum class GgufTokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

// What a token is, as bit flags: a file's token type becomes one of the
// kind bits; the strip bits are llama.cpp's per-model adjustments of how
// whitespace next to a special token in the text is treated.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLStrip = 1u << 6, // whitespace before it in the text is dropped
  kAttrRStrip = 1u << 7, // whitespace after it in the text is dropped
};

// Tokens matched in the text before the subword model runs: control and
// unknown tokens only when special tokens are parsed, user-defined always.
inline constexpr uint32_t kAttrSpecialKinds =
    kAttrControl | kAttrUserDefined | kAttrUnknown;

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attrs = kAttrNormal; // TokenAttr bits
};

} // namespace kiln
