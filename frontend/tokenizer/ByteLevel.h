// GPT-2's byte-level alphabet: every byte value is shown as one printable
// code point ("bytes_to_unicode"), so byte-level BPE vocabularies and merges
// are ordinary strings. Printable Latin-1 bytes stand for themselves; the
// other 68 (controls, space, DEL, NBSP, soft hyphen...) are moved to
// U+0100 and up, in byte order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::bytelevel {

// The code point that stands for `byte`.
char32_t charForByte(uint8_t byte);
// The UTF-8 form of charForByte(byte): 1 or 2 bytes.
std::string_view utf8ForByte(uint8_t byte);
// The byte a code point stands for, if it is one of the 256.
std::optional<uint8_t> byteForChar(char32_t codepoint);

// Encodes raw bytes as their alphabet string.
std::string encode(std::string_view bytes);

} // namespace kiln::bytelevel
