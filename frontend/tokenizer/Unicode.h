// Unicode helpers for the tokenizers: lenient UTF-8 decoding that treats bad
// bytes the way llama.cpp does, and character properties from ICU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::unicode {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Bytes in the UTF-8 sequence that `lead` starts, judged by its high bits
// alone (a stray continuation byte counts as 1). Callers clamp it to what
// is left of the text.
inline size_t sequenceLength(uint8_t lead) {
  if (lead < 0xC0)
    return 1;
  if (lead < 0xE0)
    return 2;
  if (lead < 0xF0)
    return 3;
  return 4;
}

struct DecodedChar {
  char32_t codepoint;
  size_t length; // bytes consumed, at least 1
};

// Decodes the code point at `offset` (< text.size()). A byte that does not
// start a complete sequence becomes U+FFFD and consumes one byte. As in
// llama.cpp, overlong forms and surrogates decode to their values, and 4-byte
// leads up to 0xF7 may give values above U+10FFFF.
DecodedChar decodeChar(std::string_view text, size_t offset);

// All code points of `text`, decoded with decodeChar.
std::vector<char32_t> decode(std::string_view text);

// Appends the UTF-8 form of `codepoint`. Surrogates are written as their
// 3-byte form; values above U+10FFFF, which have none, as U+FFFD.
void appendUtf8(std::string &out, char32_t codepoint);
std::string toUtf8(char32_t codepoint);

// How many bytes at the end of `bytes` are the start of a UTF-8 sequence
// that more bytes could still complete (0 when the text ends cleanly or
// with bytes no continuation could repair).
size_t incompleteTailLength(std::string_view bytes);

// The Unicode general category, grouped as the tokenizers use it.
enum class CharClass : uint8_t {
  Unassigned,  // Cn
  Letter,      // L*
  Mark,        // M*
  Number,      // N*
  Punctuation, // P*
  Symbol,      // S*
  Separator,   // Z*
  Control,     // Cc, Cf, Co, Cs
};

CharClass charClass(char32_t codepoint);
// The White_Space property (tab..CR, space, NEL, NBSP, U+2000..U+200A, ...).
bool isWhitespace(char32_t codepoint);
// The simple (one-to-one) lowercase mapping.
char32_t toLower(char32_t codepoint);
// The first code point of the canonical decomposition (NFD) of `codepoint`,
// or `codepoint` itself when it does not decompose: "é" -> "e".
char32_t nfdFirst(char32_t codepoint);

} // namespace kiln::unicode
