#include "ByteLevel.h"

#include "Unicode.h"

namespace kiln::bytelevel {

namespace {

struct Alphabet {
  std::array<char32_t, 256> charOf{};
  std::array<std::string, 256> utf8Of;
  std::array<int16_t, 256 + 68> byteOf; // -1: stands for no byte

  Alphabet() {
    auto standsForItself = [](unsigned b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
             (b >= 0xAE && b <= 0xFF);
    };
    byteOf.fill(-1);
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      charOf[b] = standsForItself(b) ? b : next++;
      utf8Of[b] = unicode::toUtf8(charOf[b]);
      byteOf[charOf[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet &alphabet() {
  static const Alphabet table;
  return table;
}

} // namespace

char32_t charForByte(uint8_t byte) { return alphabet().charOf[byte]; }

std::string_view utf8ForByte(uint8_t byte) { return alphabet().utf8Of[byte]; }

std::optional<uint8_t> byteForChar(char32_t cp) {
  // The alphabet is Latin-1 minus 68 bytes, plus U+0100..U+0143.
  if (cp >= alphabet().byteOf.size() || alphabet().byteOf[cp] < 0)
    return std::nullopt;
  return static_cast<uint8_t>(alphabet().byteOf[cp]);
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes)
    out += utf8ForByte(static_cast<uint8_t>(c));
  return out;
}

} // namespace kiln::bytelevel
