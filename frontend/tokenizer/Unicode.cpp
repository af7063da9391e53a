#include "Unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>

namespace kiln::unicode {

namespace {

bool isContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

uint8_t byteAt(std::string_view text, size_t i) {
  return static_cast<uint8_t>(text[i]);
}

} // namespace

DecodedChar decodeChar(std::string_view text, size_t offset) {
  const uint8_t lead = byteAt(text, offset);
  if (lead < 0x80)
    return {lead, 1};
  size_t length = 0;
  char32_t value = 0;
  if (lead < 0xC0 || lead >= 0xF8) {
    return {kReplacementChar, 1};
  } else if (lead < 0xE0) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead < 0xF0) {
    length = 3;
    value = lead & 0x0F;
  } else {
    length = 4;
    value = lead & 0x07;
  }
  if (offset + length > text.size())
    return {kReplacementChar, 1};
  for (size_t i = 1; i < length; ++i) {
    const uint8_t byte = byteAt(text, offset + i);
    if (!isContinuation(byte))
      return {kReplacementChar, 1};
    value = (value << 6) | (byte & 0x3F);
  }
  return {value, length};
}

std::vector<char32_t> decode(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    DecodedChar c = decodeChar(text, offset);
    out.push_back(c.codepoint);
    offset += c.length;
  }
  return out;
}

void appendUtf8(std::string &out, char32_t cp) {
  if (cp > 0x10FFFF)
    cp = kReplacementChar;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string toUtf8(char32_t codepoint) {
  std::string out;
  appendUtf8(out, codepoint);
  return out;
}

size_t incompleteTailLength(std::string_view bytes) {
  // A sequence is at most 4 bytes, so its lead is among the last 3.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t byte = byteAt(bytes, n - back);
    if (isContinuation(byte))
      continue;
    if (byte < 0xC0 || byte >= 0xF8)
      return 0; // ASCII or a byte that starts nothing
    return sequenceLength(byte) > back ? back : 0;
  }
  return 0;
}

CharClass charClass(char32_t codepoint) {
  switch (u_charType(static_cast<UChar32>(codepoint))) {
  case U_UPPERCASE_LETTER:
  case U_LOWERCASE_LETTER:
  case U_TITLECASE_LETTER:
  case U_MODIFIER_LETTER:
  case U_OTHER_LETTER:
    return CharClass::Letter;
  case U_NON_SPACING_MARK:
  case U_ENCLOSING_MARK:
  case U_COMBINING_SPACING_MARK:
    return CharClass::Mark;
  case U_DECIMAL_DIGIT_NUMBER:
  case U_LETTER_NUMBER:
  case U_OTHER_NUMBER:
    return CharClass::Number;
  case U_CONNECTOR_PUNCTUATION:
  case U_DASH_PUNCTUATION:
  case U_START_PUNCTUATION:
  case U_END_PUNCTUATION:
  case U_INITIAL_PUNCTUATION:
  case U_FINAL_PUNCTUATION:
  case U_OTHER_PUNCTUATION:
    return CharClass::Punctuation;
  case U_MATH_SYMBOL:
  case U_CURRENCY_SYMBOL:
  case U_MODIFIER_SYMBOL:
  case U_OTHER_SYMBOL:
    return CharClass::Symbol;
  case U_SPACE_SEPARATOR:
  case U_LINE_SEPARATOR:
  case U_PARAGRAPH_SEPARATOR:
    return CharClass::Separator;
  case U_CONTROL_CHAR:
  case U_FORMAT_CHAR:
  case U_PRIVATE_USE_CHAR:
  case U_SURROGATE:
    return CharClass::Control;
  default:
    return CharClass::Unassigned;
  }
}

bool isWhitespace(char32_t codepoint) {
  return u_isUWhiteSpace(static_cast<UChar32>(codepoint));
}

char32_t toLower(char32_t codepoint) {
  if (codepoint > 0x10FFFF)
    return codepoint;
  return static_cast<char32_t>(u_tolower(static_cast<UChar32>(codepoint)));
}

char32_t nfdFirst(char32_t codepoint) {
  if (codepoint < 0xC0 || codepoint > 0x10FFFF)
    return codepoint; // nothing below U+00C0 decomposes
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2 *nfd = unorm2_getNFDInstance(&status);
  if (U_FAILURE(status))
    return codepoint;
  UChar buffer[32];
  int32_t length = unorm2_getDecomposition(
      nfd, static_cast<UChar32>(codepoint), buffer, 32, &status);
  if (U_FAILURE(status) || length <= 0)
    return codepoint;
  UChar32 first = buffer[0];
  if (U16_IS_LEAD(buffer[0]) && length > 1 && U16_IS_TRAIL(buffer[1]))
    first = U16_GET_SUPPLEMENTARY(buffer[0], buffer[1]);
  return static_cast<char32_t>(first);
}

} // namespace kiln::unicode
