#include "support/Sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace kiln {
namespace {

// The FIPS 180-2 appendix B vectors (also in NIST's SHA examples).
TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(toHex(Sha256::of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Abc) {
  EXPECT_EQ(toHex(Sha256::of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessage) {
  EXPECT_EQ(toHex(Sha256::of(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionA) {
  EXPECT_EQ(toHex(Sha256::of(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundary (55, 56, 63, 64 bytes) checked
// against sha256sum.
TEST(Sha256, PaddingBoundaries) {
  const std::pair<size_t, const char *> cases[] = {
      {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
      {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
      {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
      {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"}};
  for (auto [length, expected] : cases)
    EXPECT_EQ(toHex(Sha256::of(std::string(length, 'x'))), expected) << length;
}

// Any split of the input into update() calls gives the same digest.
TEST(Sha256, PiecewiseEqualsWhole) {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += char(i * 37 + 11);
  Sha256::Digest whole = Sha256::of(text);
  for (size_t piece : {1, 3, 63, 64, 65, 200}) {
    Sha256 hash;
    for (size_t at = 0; at < text.size(); at += piece)
      hash.update(std::string_view(text).substr(at, piece));
    EXPECT_EQ(hash.finish(), whole) << "pieces of " << piece;
  }
}

} // namespace
} // namespace kiln
